// SPDX-License-Identifier: MIT
//
// The web chat page: logs in, keeps the rooms list with unread counts, shows
// the open room with scroll-back through history, sends (showing why a
// message was refused), tracks presence, moves read markers as the user
// reads, opens DMs, and after a reconnect fills each room's gap from
// history (timeline.js drops what it already has, by envelope id). Edits,
// deletes and reactions redraw the message they name in place (with a
// reply's quote of it); others' typing shows under the messages, and this
// page says when its user types. Its user replies to, reacts to, edits and
// deletes messages from their buttons.
//
// The server does not hand back a user's read marker, so this page keeps its
// own copy per browser (localStorage) and counts unread messages with a
// history request "after" it.
import { ChatSession } from './session.js';
import * as T from './timeline.js';
import * as R from './render.js';

const PAGE = 30;
const COUNT_LIMIT = 200;
const $ = (id) => document.getElementById(id);

const st = {
	me: null,
	session: null,
	rooms: new Map(), // room -> {role, tl, unread, unreadMore, loaded, more, busy, local, gone}
	current: null,
	presence: new Map(), // user -> presence JSON
	people: new Set(),
	pendingSends: new Map(), // cid -> {room, li}
	readTimer: null,
	typing: new Map(), // room -> Map(user -> {timer}): who types there, until the timer ends it
	typingSent: null, // {room, at}: when this page last said "typing"
	composing: null, // {kind: reply|edit, room, id}: what the composer's next send is
};

const TYPING_EVERY_MS = 3000; // plugin_opt_typing_interval's default
const TYPING_TTL_MS = 6000;
window.chatState = st; // for the browser tests and the console

// --- read markers ------------------------------------------------------

function markerKey(room) {
	return `mchat.read.${st.me}.${room}`;
}
function markerOf(room) {
	return localStorage.getItem(markerKey(room));
}
function setMarker(room, id) {
	const old = markerOf(room);
	if (old && old >= id) return false;
	localStorage.setItem(markerKey(room), id);
	return true;
}

// --- rooms list --------------------------------------------------------

function roomState(room, role) {
	let r = st.rooms.get(room);
	if (!r) {
		r = { role, tl: T.timelineNew(), unread: 0, unreadMore: false, loaded: false, more: true, busy: false };
		st.rooms.set(room, r);
	}
	if (role) r.role = role;
	return r;
}

function renderRooms() {
	const ul = $('rooms');
	ul.replaceChildren();
	const names = [...st.rooms.keys()].filter((n) => !st.rooms.get(n).gone).sort();
	for (const room of names) {
		const r = st.rooms.get(room);
		const li = R.roomItem(room, T.roomLabel(room, st.me), r.role);
		li.setAttribute('aria-current', room === st.current ? 'true' : 'false');
		R.setUnread(li, r.unread, r.unreadMore);
		li.addEventListener('click', () => openRoom(room));
		ul.append(li);
	}
}

function onRooms(list) {
	const now = new Map();
	for (const e of list) if (e && typeof e.room === 'string') now.set(e.room, e.role || 'member');
	for (const [room, role] of now) {
		const known = st.rooms.has(room) && !st.rooms.get(room).gone;
		const r = roomState(room, role);
		r.gone = false;
		r.local = false;
		if (!known) {
			st.session.joinRoom(room);
			countUnread(room);
		}
	}
	for (const [room, r] of st.rooms) {
		if (now.has(room) || r.local || r.gone) continue;
		r.gone = true;
		st.session.leaveRoom(room);
		if (room === st.current) showRoomState();
	}
	renderRooms();
}

async function countUnread(room) {
	const marker = markerOf(room);
	const q = marker ? { after: marker, limit: COUNT_LIMIT } : { limit: COUNT_LIMIT };
	try {
		const page = await st.session.history(room, q);
		const r = st.rooms.get(room);
		if (!r || room === st.current) return;
		r.unread = T.unreadCount(page.messages, marker, st.me);
		r.unreadMore = page.more;
		renderRooms();
	} catch {
		// the count stays as it was; the next reconnect counts again
	}
}

// --- the open room -----------------------------------------------------

function showRoomState() {
	const r = st.rooms.get(st.current);
	const stick = atBottom();
	const text = $('composer-text');
	let notice = '';
	if (r.gone) notice = 'You are no longer a member of this room.';
	else if (r.role === 'reader') notice = 'You may read this room but not write in it.';
	$('room-notice').textContent = notice;
	const canWrite = !r.gone && r.role !== 'reader';
	text.disabled = !canWrite;
	$('composer-send').disabled = !canWrite;
	renderRoomPresence();
	if (stick) scrollToBottom(); // the notice took room from the list
}

function openRoom(room) {
	if (st.typingSent && st.typingSent.room !== room) stopTyping();
	if (st.composing && st.composing.room !== room) setComposing(null);
	st.current = room;
	const r = roomState(room);
	$('room-title').textContent = T.roomLabel(room, st.me);
	$('messages').replaceChildren();
	$('pending').replaceChildren();
	for (const [, p] of st.pendingSends) if (p.room === room) $('pending').append(p.li);
	const firstUnread = firstUnreadId(room);
	for (const id of r.tl.ids) appendNode(r.tl.byId.get(id), firstUnread);
	showRoomState();
	renderRooms();
	renderTyping();
	$('history-state').textContent = '';
	if (!r.loaded) loadNewest(room);
	else scrollToBottom();
	if (!$('composer-text').disabled) $('composer-text').focus();
}

function firstUnreadId(room) {
	const marker = markerOf(room);
	const r = st.rooms.get(room);
	return r.tl.ids.find((id) => id > (marker || '') && r.tl.byId.get(id).from !== st.me) || null;
}

// The node of a timeline message of a room, quoting what it replies to.
function nodeOf(room, msg) {
	const r = st.rooms.get(room);
	const canWrite = !r.gone && r.role !== 'reader';
	return R.messageNode(msg, st.me, msg.reply ? r.tl.byId.get(msg.reply) : undefined, canWrite);
}

function appendNode(env, firstUnread) {
	if (env.id === firstUnread && markerOf(st.current)) $('messages').append(R.dividerNode());
	$('messages').append(nodeOf(st.current, env));
}

// Redraws the messages with these ids, and the replies that quote them.
function redraw(room, ids) {
	const r = st.rooms.get(room);
	const list = $('messages');
	for (const id of ids) {
		const old = r.tl.byId.has(id) && list.querySelector(`li.msg[data-id="${id}"]`);
		if (old) old.replaceWith(nodeOf(room, r.tl.byId.get(id)));
		for (const q of list.querySelectorAll(`li.msg[data-reply="${id}"]`)) {
			const reply = r.tl.byId.get(q.dataset.id);
			if (reply) q.replaceWith(nodeOf(room, reply));
		}
	}
}

async function loadNewest(room) {
	const r = st.rooms.get(room);
	r.busy = true;
	$('history-state').textContent = 'loading…';
	try {
		const page = await st.session.history(room, { limit: PAGE });
		r.loaded = true;
		r.more = page.more;
		insertEnvelopes(room, page.messages, true);
		if (room === st.current) {
			const first = firstUnreadId(room);
			const node = first && $('messages').querySelector(`[data-id="${first}"]`);
			if (node && markerOf(room)) node.before(R.dividerNode());
			scrollToBottom();
		}
	} catch (e) {
		if (room === st.current) $('history-state').textContent = `history: ${e.message}`;
	} finally {
		r.busy = false;
		if (room === st.current) historyLine(r);
		maybeMarkRead();
	}
}

function historyLine(r) {
	const s = $('history-state');
	if (!r.loaded) return;
	s.textContent = r.more ? '' : r.tl.ids.length ? 'the beginning of this room' : 'no messages yet';
}

async function loadOlder() {
	const room = st.current;
	const r = room && st.rooms.get(room);
	if (!r || !r.loaded || !r.more || r.busy) return;
	r.busy = true;
	$('history-state').textContent = 'loading older messages…';
	const sc = $('scroller');
	try {
		const page = await st.session.history(room, { before: T.timelineOldest(r.tl), limit: PAGE });
		r.more = page.more;
		const before = sc.scrollHeight;
		insertEnvelopes(room, page.messages, true);
		sc.scrollTop += sc.scrollHeight - before; // keep what the user looks at in place
	} catch (e) {
		$('history-state').textContent = `history: ${e.message}`;
	} finally {
		r.busy = false;
		if (room === st.current) historyLine(r);
	}
}

// Merges envelopes into a room (served: a history page); draws the new
// ones and redraws the changed ones when it is open. Returns the messages
// that were new.
function insertEnvelopes(room, envelopes, served = false) {
	const r = roomState(room);
	const { added, changed } = T.timelineAdd(r.tl, envelopes, { served });
	// Newest first: the node each one goes before is then already drawn.
	for (const env of [...added].reverse()) {
		st.people.add(env.from);
		if (room !== st.current) continue;
		const nextId = T.timelineNextId(r.tl, env.id);
		const next = nextId && $('messages').querySelector(`[data-id="${nextId}"]`);
		const node = nodeOf(room, env);
		if (next) next.before(node);
		else $('messages').append(node);
	}
	if (room === st.current) redraw(room, [...changed, ...added.map((m) => m.id)]);
	if (added.length) {
		renderPeople();
		if (room === st.current) {
			renderRoomPresence();
			if (!r.busy) historyLine(r);
		}
	}
	return added;
}

function atBottom() {
	const sc = $('scroller');
	return sc.scrollHeight - sc.scrollTop - sc.clientHeight < 40;
}

function scrollToBottom() {
	const sc = $('scroller');
	sc.scrollTop = sc.scrollHeight;
}

// Moves the read marker to the newest message when the user can see it.
function maybeMarkRead() {
	const room = st.current;
	const r = room && st.rooms.get(room);
	if (!r || r.gone || document.visibilityState !== 'visible' || !atBottom()) return;
	const newest = T.timelineNewest(r.tl);
	if (!newest) return;
	r.unread = 0;
	r.unreadMore = false;
	if (setMarker(room, newest)) {
		clearTimeout(st.readTimer);
		st.readTimer = setTimeout(() => st.session.markRead(room, markerOf(room)), 300);
	}
	renderRooms();
}

// --- arriving traffic --------------------------------------------------

function onMessage(room, env) {
	if (!T.isMessageId(env.id)) return;
	const stick = room === st.current && atBottom();
	const added = insertEnvelopes(room, [env]);
	if (!added.length) return;
	typingStopped(room, env.from); // a message ends its sender's typing
	if (env.from === st.me && env.cid && st.pendingSends.has(env.cid)) {
		st.pendingSends.get(env.cid).li.remove();
		st.pendingSends.delete(env.cid);
	}
	const r = st.rooms.get(room);
	if (room === st.current) {
		if (stick || env.from === st.me) scrollToBottom();
		maybeMarkRead();
	} else if (env.from !== st.me && env.id > (markerOf(room) || '')) {
		r.unread++;
		renderRooms();
	}
}

function onEvent(room, ev) {
	if (ev.user) st.people.add(ev.user);
	const text = R.eventText(ev);
	if (text && room === st.current) {
		const stick = atBottom();
		$('messages').append(R.systemNode(text));
		if (stick) scrollToBottom();
	}
}

// --- typing --------------------------------------------------------------

function onTyping(room, ev) {
	if (typeof ev.user !== 'string' || ev.user === st.me) return;
	if (ev.typing === false) return typingStopped(room, ev.user);
	if (!st.typing.has(room)) st.typing.set(room, new Map());
	const users = st.typing.get(room);
	clearTimeout(users.get(ev.user)?.timer);
	const ttl = Number.isFinite(ev.ttl) && ev.ttl > 0 ? Math.min(ev.ttl, 60000) : TYPING_TTL_MS;
	users.set(ev.user, { timer: setTimeout(() => typingStopped(room, ev.user), ttl) });
	renderTyping();
}

function typingStopped(room, user) {
	const users = st.typing.get(room);
	if (!users || !users.has(user)) return;
	clearTimeout(users.get(user).timer);
	users.delete(user);
	renderTyping();
}

function renderTyping() {
	const users = st.typing.get(st.current);
	$('typing').textContent = R.typingText(users ? [...users.keys()].sort() : []);
}

// While the user types: "typing" at most once per interval; an emptied
// box (or leaving the room) says it stopped. Sending ends it by itself.
function onComposerInput() {
	const room = st.current;
	const text = $('composer-text').value.trim();
	const sent = st.typingSent;
	if (!text) return stopTyping();
	if (sent && sent.room === room && Date.now() - sent.at < TYPING_EVERY_MS) return;
	if (sent && sent.room !== room) stopTyping();
	st.session.typing(room, true);
	st.typingSent = { room, at: Date.now() };
}

function stopTyping() {
	if (!st.typingSent) return;
	st.session.typing(st.typingSent.room, false);
	st.typingSent = null;
}

function onNotice(n) {
	if (n.type === 'error') {
		const p = n.cid && st.pendingSends.get(n.cid);
		const sentence = T.refusalText(n.reason, n.until);
		if (p) R.markFailed(p.li, sentence);
		else if (n.room === st.current) $('room-notice').textContent = sentence;
	} else if (n.type === 'muted') {
		const where = n.room ? `in #${n.room}` : 'in every room';
		const until = n.until ? ` until ${new Date(n.until).toLocaleTimeString()}` : '';
		$('room-notice').textContent = `You are muted ${where}${until}.`;
	}
}

function onPresence(p) {
	if (!p || typeof p.user !== 'string') return;
	st.presence.set(p.user, p);
	st.people.add(p.user);
	renderPeople();
	renderRoomPresence();
}

function renderPeople() {
	const ul = $('people');
	ul.replaceChildren();
	const users = [...st.people].filter((u) => u !== st.me).sort((a, b) => {
		const on = (u) => (st.presence.get(u)?.online ? 0 : 1);
		return on(a) - on(b) || (a < b ? -1 : 1);
	});
	for (const u of users) {
		const li = R.personItem(u, st.presence.get(u));
		li.addEventListener('click', () => openDm(u));
		ul.append(li);
	}
}

function renderRoomPresence() {
	const room = st.current;
	if (!room) return;
	const peer = T.dmPeer(room, st.me);
	const r = st.rooms.get(room);
	const who = peer ? [peer] : [...new Set([...r.tl.byId.values()].map((e) => e.from))].filter((u) => u !== st.me);
	const parts = who.sort().map((u) => `${u}: ${R.lastSeen(st.presence.get(u))}`);
	$('room-presence').textContent = parts.join(' · ');
}

function openDm(user) {
	const room = T.dmRoom(st.me, user);
	const r = roomState(room, st.rooms.get(room)?.role || 'member');
	if (!st.session.rooms.has(room)) {
		r.local = true; // listed once the first message creates it
		r.gone = false;
		st.session.joinRoom(room);
	}
	openRoom(room);
}

// --- sending -----------------------------------------------------------

// What the next send does (null: a new message), shown over the composer.
function setComposing(c) {
	st.composing = c;
	const r = c && st.rooms.get(c.room);
	const msg = r && r.tl.byId.get(c.id);
	const what = msg && msg.text !== undefined ? `: ${msg.text}` : '';
	$('composing').textContent = c ? `${c.kind === 'edit' ? 'Editing' : `Replying to ${msg ? msg.from : 'a message'}`}${what} (Esc cancels)` : '';
}

// The buttons on a message: reply, 👍 (again: take it back), edit, delete.
const ACTIONS = {
	reply(room, msg) {
		setComposing({ kind: 'reply', room, id: msg.id });
		$('composer-text').focus();
	},
	react(room, msg) {
		const mine = msg.live && msg.live.get(st.me) === '👍';
		st.session.change(room, { react: msg.id, reaction: mine ? '' : '👍' }).catch(() => {});
	},
	edit(room, msg) {
		setComposing({ kind: 'edit', room, id: msg.id });
		$('composer-text').value = msg.text !== undefined ? msg.text : '';
		$('composer-text').focus();
	},
	delete(room, msg) {
		if (window.confirm('Delete this message for everyone?')) st.session.change(room, { delete: msg.id }).catch(() => {});
	},
};

function onMessagesClick(e) {
	const b = e.target.closest('button[data-act]');
	const li = b && b.closest('li.msg');
	const r = li && st.rooms.get(st.current);
	const msg = r && r.tl.byId.get(li.dataset.id);
	if (msg && !msg.deleted && ACTIONS[b.dataset.act]) ACTIONS[b.dataset.act](st.current, msg);
}

// An edit: no pending line; the message changes in place when the edit
// comes back, and a refusal shows in the room's notice (onNotice).
function sendEdit(room, id, text) {
	st.session.send(room, text, st.session.newCid(), { edit: id }).catch(() => {});
}

function send() {
	const box = $('composer-text');
	const text = box.value.trim();
	if (!text || !st.current || box.disabled) return;
	box.value = '';
	const room = st.current;
	const c = st.composing && st.composing.room === room ? st.composing : null;
	setComposing(null);
	if (c && c.kind === 'edit') {
		stopTyping(); // an edit is no new message: it does not end the typing
		return sendEdit(room, c.id, text);
	}
	st.typingSent = null; // the message ends the typing
	const extra = c ? { reply: c.id } : {};
	const cid = st.session.newCid();
	const li = R.messageNode({ from: st.me, text, cid, ...extra }, st.me, c ? st.rooms.get(room).tl.byId.get(c.id) : undefined);
	li.classList.add('pending');
	st.pendingSends.set(cid, { room, li });
	$('pending').append(li);
	scrollToBottom();
	st.session.send(room, text, cid, extra).then(() => {
		if (li.isConnected) li.querySelector('.time').textContent = 'sent';
	}).catch((err) => {
		// The inbox notice with the reason follows; until then the code.
		if (!li.classList.contains('failed')) R.markFailed(li, `Not sent (reason code ${err.code ?? '?'})`);
	});
}

function onComposerKey(e) {
	if (e.key === 'Escape' && st.composing) {
		if (st.composing.kind === 'edit') $('composer-text').value = '';
		setComposing(null);
		return;
	}
	// While an IME composes (Korean, Japanese...), Enter commits the
	// syllable; it must not send.
	if (e.key !== 'Enter' || e.shiftKey || e.isComposing || e.keyCode === 229) return;
	e.preventDefault();
	send();
}

// --- connection --------------------------------------------------------

function setStatus(state) {
	const s = $('status');
	s.dataset.state = state;
	s.textContent = state;
}

// After a reconnect: every loaded room asks for what came after its
// newest message, page by page; the others count their unread again.
async function fillGaps() {
	for (const [room, r] of st.rooms) {
		if (r.gone) continue;
		if (!r.loaded) {
			countUnread(room);
			continue;
		}
		const stick = room === st.current && atBottom();
		let after = T.timelineNewest(r.tl);
		for (let pages = 0; after && pages < 10; pages++) {
			let page;
			try {
				page = await st.session.history(room, { after, limit: COUNT_LIMIT });
			} catch {
				break;
			}
			for (const env of insertEnvelopes(room, page.messages, true)) {
				if (room !== st.current && env.from !== st.me && env.id > (markerOf(room) || '')) r.unread++;
			}
			if (!page.more || !page.messages.length) break;
			after = page.messages[0].id;
		}
		if (stick) scrollToBottom();
	}
	renderRooms();
	maybeMarkRead();
}

function wire(session) {
	session.addEventListener('connected', (e) => {
		setStatus('online');
		if (e.detail.reconnect) fillGaps();
	});
	session.addEventListener('disconnected', () => setStatus(session.everConnected ? 'offline' : 'connecting'));
	session.addEventListener('failure', (e) => {
		// Refused at login, or on a reconnect: a token that expired, a ban,
		// a changed password. MQTT.js would retry it forever.
		const refused = e.detail.code === 135 || e.detail.code === 5;
		if (!session.everConnected || refused) loginFailed(e.detail, session.everConnected);
	});
	session.addEventListener('rooms', (e) => onRooms(e.detail.rooms));
	session.addEventListener('message', (e) => onMessage(e.detail.room, e.detail.body));
	session.addEventListener('event', (e) => onEvent(e.detail.room, e.detail.body));
	session.addEventListener('typing', (e) => onTyping(e.detail.room, e.detail.body));
	session.addEventListener('notice', (e) => onNotice(e.detail));
	session.addEventListener('presence', (e) => onPresence(e.detail));
}

function loginFailed(detail, wasIn) {
	st.session.end();
	st.session = null;
	$('app').hidden = true;
	$('login').hidden = false;
	const refused = detail.code === 135 || detail.code === 5;
	let text = `Cannot connect: ${detail.message}`;
	if (refused) text = wasIn
		? 'Your session ended (an expired token, a ban or a new password): log in again.'
		: 'Login refused: wrong user, password or token.';
	$('login-error').textContent = text;
}

function defaultUrl() {
	const q = new URLSearchParams(location.search).get('broker');
	if (q) return q;
	return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/mqtt`;
}

function login(e) {
	e.preventDefault();
	st.me = $('login-user').value.trim();
	$('login-error').textContent = '';
	st.rooms.clear();
	st.people.clear();
	st.current = null;
	st.session = new ChatSession({ url: $('login-url').value.trim(), username: st.me, password: $('login-password').value });
	window.chatSession = st.session;
	wire(st.session);
	$('me-name').textContent = st.me;
	setStatus('connecting');
	$('login').hidden = true;
	$('app').hidden = false;
	st.session.start();
}

function logout() {
	if (st.session) st.session.end();
	location.reload();
}

$('login-url').value = defaultUrl();
$('login').addEventListener('submit', login);
$('logout').addEventListener('click', logout);
$('composer').addEventListener('submit', (e) => {
	e.preventDefault();
	send();
});
$('composer-text').addEventListener('keydown', onComposerKey);
$('composer-text').addEventListener('input', onComposerInput);
$('messages').addEventListener('click', onMessagesClick);
$('scroller').addEventListener('scroll', () => {
	if ($('scroller').scrollTop < 60) loadOlder();
	maybeMarkRead();
});
document.addEventListener('visibilitychange', maybeMarkRead);
