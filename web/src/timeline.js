// SPDX-License-Identifier: MIT
//
// Pure helpers of the web client, with no MQTT and no DOM: a room's timeline
// (envelopes kept once each, by server id, in id order, which is time
// order, with the edits, deletes and reactions that name them applied in
// place), unread counting against a read marker, the DM room id of two
// users, and the words shown for a refusal reason. main.js and session.js
// apply what these decide.

// Ids are 26 Crockford base32 characters that sort as strings in time order.
const ID_RE = /^[0-9A-Z]{26}$/;

export function isMessageId(id) {
	return typeof id === 'string' && ID_RE.test(id);
}

// A timeline: { byId: Map(id -> message), ids: sorted array of ids,
// waiting: Map(target id -> changes that came before their message) }.
// A message is a copy of its envelope that its changes update: the latest
// text with "edited" (ms), a tombstone ("deleted":true, no text), and
// "reactions" as counts. Counts a history page served are kept apart
// (served) from the reactions seen live (live: user -> reaction), so a
// user's new reaction replaces the one of theirs this page saw.
export function timelineNew() {
	return { byId: new Map(), ids: [], waiting: new Map() };
}

// Index of the first id in the sorted array that is >= id.
function lowerBound(ids, id) {
	let lo = 0, hi = ids.length;
	while (lo < hi) {
		const mid = (lo + hi) >> 1;
		if (ids[mid] < id) lo = mid + 1; else hi = mid;
	}
	return lo;
}

// What an envelope changes: {kind: edit|delete|react, target}, or null
// for a message of its own (topics.md, "Edits and deletes").
const CHANGES = [
	['edit', (e) => e.edit],
	['delete', (e) => (e.type === 'delete' ? e.delete : undefined)],
	['react', (e) => (e.type === 'reaction' ? e.react : undefined)],
];
export function changeOf(env) {
	for (const [kind, target] of CHANGES) {
		const t = target(env);
		if (t !== undefined) return { kind, target: t };
	}
	return null;
}

function countsOf(msg) {
	const counts = {};
	for (const [r, n] of Object.entries(msg.served || {})) if (n > 0) counts[r] = n;
	for (const r of (msg.live || new Map()).values()) counts[r] = (counts[r] || 0) + 1;
	return counts;
}

function setCounts(msg) {
	const counts = countsOf(msg);
	if (Object.keys(counts).length) msg.reactions = counts;
	else delete msg.reactions;
}

// Applies one change to its message (pure but for msg); returns whether
// the message now looks different.
const APPLY = {
	edit(msg, ch) {
		if (msg.deleted || (msg.edited && ch.ts < msg.edited)) return false;
		for (const k of ['text', 'data', 'type']) {
			if (ch[k] !== undefined) msg[k] = ch[k];
			else if (k !== 'type') delete msg[k];
		}
		msg.edited = ch.ts || msg.edited || 1;
		return true;
	},
	delete(msg) {
		if (msg.deleted) return false;
		msg.deleted = true;
		for (const k of ['text', 'data', 'reactions', 'served', 'live']) delete msg[k];
		return true;
	},
	react(msg, ch) {
		if (msg.deleted || typeof ch.reaction !== 'string' || typeof ch.from !== 'string') return false;
		if (!msg.live) msg.live = new Map();
		if (ch.reaction === '') msg.live.delete(ch.from);
		else msg.live.set(ch.from, ch.reaction);
		setCounts(msg);
		return true;
	},
};

// Changes to messages not loaded yet wait, the oldest targets dropped past
// WAITING_MAX (a page that never loads them does not grow without end).
const WAITING_MAX = 1000;
function keepWaiting(tl, target, env) {
	const list = tl.waiting.get(target) || [];
	if (!list.some((c) => c.id === env.id)) list.push(env);
	tl.waiting.set(target, list);
	if (tl.waiting.size > WAITING_MAX) tl.waiting.delete(tl.waiting.keys().next().value);
}

function newMessage(env) {
	const msg = { ...env };
	if (env.reactions && typeof env.reactions === 'object') msg.served = { ...env.reactions };
	setCounts(msg);
	return msg;
}

// Adds envelopes (any order, duplicates allowed) to tl: messages are
// inserted, changes applied to the message they name or kept until it
// comes. served: the envelopes are a history page, which shows its
// messages as they stand, so the reactions that waited for them are in
// its counts already. Returns {added: the new messages in id order (the
// caller draws them), changed: ids of drawn messages that changed}.
export function timelineAdd(tl, envelopes, { served = false } = {}) {
	const added = [];
	const changed = new Set();
	for (const env of envelopes) {
		if (!env || !isMessageId(env.id)) continue;
		const ch = changeOf(env);
		if (ch) {
			if (!isMessageId(ch.target)) continue;
			const msg = tl.byId.get(ch.target);
			if (msg) {
				if (APPLY[ch.kind](msg, env)) changed.add(ch.target);
			} else {
				keepWaiting(tl, ch.target, env);
			}
			continue;
		}
		if (tl.byId.has(env.id)) continue;
		const msg = newMessage(env);
		const waiting = tl.waiting.get(env.id) || [];
		tl.waiting.delete(env.id);
		waiting.sort((a, b) => (a.id < b.id ? -1 : 1));
		for (const c of waiting) {
			const kind = changeOf(c).kind;
			if (!(served && kind === 'react')) APPLY[kind](msg, c);
		}
		tl.byId.set(env.id, msg);
		tl.ids.splice(lowerBound(tl.ids, env.id), 0, env.id);
		added.push(msg);
	}
	added.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
	for (const m of added) changed.delete(m.id);
	return { added, changed: [...changed] };
}

// timelineAdd for callers that only draw new messages.
export function timelineMerge(tl, envelopes, opts) {
	return timelineAdd(tl, envelopes, opts).added;
}

export function timelineOldest(tl) {
	return tl.ids.length ? tl.ids[0] : null;
}

export function timelineNewest(tl) {
	return tl.ids.length ? tl.ids[tl.ids.length - 1] : null;
}

// Where an id sits in the timeline: the id just after it, or null when it
// is the newest (the DOM inserts before that one's node).
export function timelineNextId(tl, id) {
	const i = lowerBound(tl.ids, id);
	return i + 1 < tl.ids.length ? tl.ids[i + 1] : null;
}

// Messages others sent after the read marker (null marker: all of them),
// as push notifications count them.
export function unreadCount(envelopes, marker, me) {
	let n = 0;
	for (const env of envelopes) {
		if (env.from !== me && (!marker || env.id > marker)) n++;
	}
	return n;
}

// The DM room of two users: dm:{a}:{b} with a < b bytewise.
export function dmRoom(a, b) {
	return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`;
}

// The other user of a DM room, or null when room is no DM room of me.
export function dmPeer(room, me) {
	const m = /^dm:([A-Za-z0-9_.-]{1,64}):([A-Za-z0-9_.-]{1,64})$/.exec(room);
	if (!m) return null;
	if (m[1] === me) return m[2];
	if (m[2] === me) return m[1];
	return null;
}

const REASONS = {
	invalid_utf8: 'the text is not valid UTF-8',
	malformed_json: 'the message was malformed',
	too_large: 'the message is too long',
	empty: 'the message is empty',
	muted: 'you are muted',
	banned_words: 'it contains a banned word',
	rate_limited: 'you are sending too fast',
	repeated: 'you sent the same message too often',
	not_member: 'you are not a member of this room',
	read_only: 'you may only read in this room',
	no_room: 'there is no such room',
	dm_not_allowed: 'direct messages with this user are not allowed',
	retained: 'retained messages are refused',
	user_properties: 'the message carried MQTT user properties',
	not_found: 'that message is gone or was never here',
	not_allowed: 'it is not your message',
	edit_window: 'the message is too old to change',
	store_unavailable: 'the server cannot store messages right now; try again in a moment',
};

// The sentence shown under a refused message: the reason, and until when
// for a mute or a rate limit (until: Unix ms, or 0/absent).
export function refusalText(reason, until) {
	const why = REASONS[reason] || `refused (${String(reason || 'unknown reason')})`;
	if (until && until > 0) {
		const t = new Date(until);
		return `Not sent: ${why}, until ${t.toLocaleTimeString()}`;
	}
	return `Not sent: ${why}`;
}

// The name a room shows in the list: the peer for a DM, else the id.
export function roomLabel(room, me) {
	const peer = dmPeer(room, me);
	return peer ? `@${peer}` : `#${room}`;
}
