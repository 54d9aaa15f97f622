// SPDX-License-Identifier: MIT
//
// DOM pieces of the web chat: messages (with a reply's quote, "edited",
// tombstones and reaction counts), the typing line, lists. Every
// user-supplied string (text, names, room ids, reasons, reactions) goes in through textContent, never as HTML, so a message
// that looks like markup shows as the characters it is.

export function el(tag, className, text) {
	const e = document.createElement(tag);
	if (className) e.className = className;
	if (text !== undefined) e.textContent = text;
	return e;
}

function timeOf(ts) {
	const d = new Date(ts);
	const today = new Date();
	const sameDay = d.toDateString() === today.toDateString();
	return sameDay ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : d.toLocaleString();
}

// The line quoting the message a reply answers: its sender and text when
// it is loaded (quoted: the timeline's message, or undefined).
function quoteNode(quoted) {
	const q = el('div', 'quote');
	if (!quoted) q.textContent = '↪ an earlier message';
	else if (quoted.deleted) q.textContent = `↪ ${quoted.from}: message deleted`;
	else q.textContent = `↪ ${quoted.from}: ${quoted.text !== undefined ? quoted.text : `[${quoted.type || 'data'}]`}`;
	return q;
}

// Reaction counts, as "👍 2" chips in a fixed (sorted) order.
function reactionsNode(reactions) {
	const div = el('div', 'reactions');
	for (const r of Object.keys(reactions).sort()) div.append(el('span', 'reaction', `${r} ${reactions[r]}`));
	return div;
}

// The buttons of a message this user may act on (main.js handles the
// clicks by data-act): reply and react for every message, edit and delete
// for one's own.
const ACTS = [['reply', 'reply', false], ['react', '👍', false], ['edit', 'edit', true], ['delete', 'delete', true]];
function actionsNode(mine) {
	const div = el('div', 'acts');
	for (const [act, label, ownOnly] of ACTS) {
		if (ownOnly && !mine) continue;
		const b = el('button', 'act', label);
		b.type = 'button';
		b.dataset.act = act;
		div.append(b);
	}
	return div;
}

// A message element for a timeline message (or a pending send: env
// without id); quoted is the message a reply answers, when loaded; acts:
// whether to offer the buttons (the user may write here).
export function messageNode(env, me, quoted, acts = false) {
	const li = el('li', 'msg');
	if (env.id) li.dataset.id = env.id;
	if (env.cid) li.dataset.cid = env.cid;
	if (env.reply) li.dataset.reply = env.reply;
	if (env.from === me) li.classList.add('mine');
	if (env.flagged) li.classList.add('flagged');
	const head = el('div', 'head');
	head.append(el('span', 'from', env.from), el('span', 'time', env.ts ? timeOf(env.ts) : 'sending…'));
	if (env.edited && !env.deleted) head.append(el('span', 'edited', 'edited'));
	li.append(head);
	if (env.reply) li.append(quoteNode(quoted));
	if (env.deleted) {
		li.classList.add('deleted');
		li.append(el('div', 'text tombstone', 'message deleted'));
		return li;
	}
	const text = env.text !== undefined ? env.text : `[${env.type || 'data'}]`;
	li.append(el('div', 'text', text));
	if (env.reactions) li.append(reactionsNode(env.reactions));
	if (acts && env.id) li.append(actionsNode(env.from === me));
	return li;
}

// The typing line of a room: who of the others is typing now.
export function typingText(users) {
	if (!users.length) return '';
	if (users.length === 1) return `${users[0]} is typing…`;
	if (users.length <= 3) return `${users.slice(0, -1).join(', ')} and ${users.at(-1)} are typing…`;
	return `${users.length} people are typing…`;
}

// Marks a pending message as refused, with the reason in words.
export function markFailed(li, sentence) {
	li.classList.add('failed');
	let r = li.querySelector('.reason');
	if (!r) {
		r = el('div', 'reason');
		li.append(r);
	}
	r.textContent = sentence;
	li.querySelector('.time').textContent = 'not sent';
}

export function systemNode(text) {
	return el('li', 'sys', text);
}

export function dividerNode() {
	return el('li', 'divider', 'new messages');
}

// A rooms-list entry.
export function roomItem(room, label, role) {
	const li = el('li');
	li.dataset.room = room;
	li.append(el('span', 'name', label), el('span', 'role', role === 'member' ? '' : role), el('span', 'unread'));
	return li;
}

export function setUnread(li, n, more) {
	li.querySelector('.unread').textContent = n > 0 ? `${n > 99 ? '99' : n}${more || n > 99 ? '+' : ''}` : '';
}

export function lastSeen(p) {
	if (!p) return 'unknown';
	if (p.online) return 'online';
	return p.since ? `last seen ${timeOf(p.since)}` : 'offline';
}

// A people-list entry with a presence dot.
export function personItem(user, p) {
	const li = el('li');
	li.dataset.user = user;
	const dot = el('span', p && p.online ? 'dot on' : 'dot');
	li.title = `${user}: ${lastSeen(p)} (click for a direct message)`;
	li.append(dot, el('span', 'name', user), el('span', 'seen', p && p.online ? '' : lastSeen(p).replace('last seen ', '')));
	return li;
}

// What an event on chat/rooms/{room}/events says to a reader, or null.
export function eventText(ev) {
	switch (ev.type) {
	case 'member_added': return `${ev.user} joined (${ev.role})`;
	case 'member_removed': return `${ev.user} was removed`;
	case 'member_role_changed': return `${ev.user} is now ${ev.role}`;
	case 'muted': return `${ev.user} was muted`;
	case 'unmuted': return `${ev.user} may write again`;
	case 'moderation': return ev.action === 'mute' ? `${ev.user} was muted for flooding` : null;
	default: return null;
	}
}
