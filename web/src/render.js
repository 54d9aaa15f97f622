// SPDX-License-Identifier: MIT
//
// DOM pieces of the web chat. Every user-supplied string (text, names, room
// ids, reasons) goes in through textContent, never as HTML, so a message
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

// A message element for an envelope (or a pending send: env without id).
export function messageNode(env, me) {
	const li = el('li', 'msg');
	if (env.id) li.dataset.id = env.id;
	if (env.cid) li.dataset.cid = env.cid;
	if (env.from === me) li.classList.add('mine');
	if (env.flagged) li.classList.add('flagged');
	const head = el('div', 'head');
	head.append(el('span', 'from', env.from), el('span', 'time', env.ts ? timeOf(env.ts) : 'sending…'));
	const text = env.text !== undefined ? env.text : `[${env.type || 'data'}]`;
	li.append(head, el('div', 'text', text));
	return li;
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
