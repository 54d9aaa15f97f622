// SPDX-License-Identifier: MIT
//
// Pure helpers of the web client, with no MQTT and no DOM: a room's timeline
// (envelopes kept once each, by server id, in id order, which is time
// order), unread counting against a read marker, the DM room id of two
// users, and the words shown for a refusal reason. main.js and session.js
// apply what these decide.

// Ids are 26 Crockford base32 characters that sort as strings in time order.
const ID_RE = /^[0-9A-Z]{26}$/;

export function isMessageId(id) {
	return typeof id === 'string' && ID_RE.test(id);
}

// A timeline: { byId: Map(id -> envelope), ids: sorted array of ids }.
export function timelineNew() {
	return { byId: new Map(), ids: [] };
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

// Adds envelopes (any order, duplicates allowed) to tl. Returns the
// envelopes that were new, in id order: the caller renders only those.
export function timelineMerge(tl, envelopes) {
	const added = [];
	for (const env of envelopes) {
		if (!env || !isMessageId(env.id) || tl.byId.has(env.id)) continue;
		tl.byId.set(env.id, env);
		tl.ids.splice(lowerBound(tl.ids, env.id), 0, env.id);
		added.push(env);
	}
	added.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
	return added;
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
