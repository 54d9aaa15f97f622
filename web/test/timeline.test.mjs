// SPDX-License-Identifier: MIT
// Unit tests of timeline.js (node --test): dedup by envelope id, order,
// edits, deletes and reactions applied in place (also before their message),
// unread counting, DM room ids, refusal sentences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../src/timeline.js';

const id = (n) => `01M8${String(n).padStart(22, '0')}`;
const env = (n, from = 'alice') => ({ id: id(n), room: 'r', from, ts: n, type: 'text', text: `m${n}` });

test('merge keeps each id once, in id order, and returns only the new ones', () => {
	const tl = T.timelineNew();
	assert.deepEqual(T.timelineMerge(tl, [env(3), env(1)]).map((e) => e.id), [id(1), id(3)]);
	const added = T.timelineMerge(tl, [env(3), env(2), env(2), env(4), env(1)]);
	assert.deepEqual(added.map((e) => e.id), [id(2), id(4)]);
	assert.deepEqual(tl.ids, [id(1), id(2), id(3), id(4)]);
	assert.equal(T.timelineOldest(tl), id(1));
	assert.equal(T.timelineNewest(tl), id(4));
	assert.equal(T.timelineNextId(tl, id(2)), id(3));
	assert.equal(T.timelineNextId(tl, id(4)), null);
});

test('merge drops envelopes without a valid server id', () => {
	const tl = T.timelineNew();
	const bad = [null, {}, { id: 'x' }, { id: id(1).toLowerCase() }, { id: `${id(1)}0` }];
	assert.deepEqual(T.timelineMerge(tl, bad), []);
	assert.equal(tl.ids.length, 0);
});

test('unread counts others\' messages after the marker', () => {
	const list = [env(5), env(4, 'bob'), env(3), env(2)];
	assert.equal(T.unreadCount(list, id(3), 'bob'), 1);
	assert.equal(T.unreadCount(list, null, 'bob'), 3);
	assert.equal(T.unreadCount(list, id(5), 'bob'), 0);
});

test('DM rooms are dm:{a}:{b} with a < b', () => {
	assert.equal(T.dmRoom('bob', 'alice'), 'dm:alice:bob');
	assert.equal(T.dmRoom('alice', 'bob'), 'dm:alice:bob');
	assert.equal(T.dmPeer('dm:alice:bob', 'bob'), 'alice');
	assert.equal(T.dmPeer('dm:alice:bob', 'carol'), null);
	assert.equal(T.dmPeer('general', 'bob'), null);
	assert.equal(T.roomLabel('dm:alice:bob', 'alice'), '@bob');
	assert.equal(T.roomLabel('general', 'alice'), '#general');
});

test('refusal sentences name the reason, unknown ones included', () => {
	assert.equal(T.refusalText('banned_words'), 'Not sent: it contains a banned word');
	assert.match(T.refusalText('rate_limited', Date.now() + 5000), /^Not sent: you are sending too fast, until /);
	assert.equal(T.refusalText('something_new'), 'Not sent: refused (something_new)');
});

const change = (n, from, fields) => ({ id: id(n), room: 'r', from, ts: n, type: 'text', ...fields });
const edit = (n, target, text, from = 'alice') => change(n, from, { text, edit: id(target) });
const del = (n, target, from = 'alice') => change(n, from, { type: 'delete', delete: id(target) });
const react = (n, target, reaction, from = 'bob') => change(n, from, { type: 'reaction', react: id(target), reaction });

test('an edit replaces the text in place, marks it edited, and is no message', () => {
	const tl = T.timelineNew();
	T.timelineAdd(tl, [env(1), env(2)]);
	const r = T.timelineAdd(tl, [edit(3, 1, 'fixed')]);
	assert.deepEqual(r.added, []);
	assert.deepEqual(r.changed, [id(1)]);
	assert.deepEqual(tl.ids, [id(1), id(2)]);
	assert.equal(tl.byId.get(id(1)).text, 'fixed');
	assert.equal(tl.byId.get(id(1)).edited, 3);
	// An older edit (a replay) does not bring back an older text.
	T.timelineAdd(tl, [edit(5, 1, 'newest'), edit(4, 1, 'older')]);
	assert.equal(tl.byId.get(id(1)).text, 'newest');
	assert.equal(T.changeOf(env(1)), null);
	assert.deepEqual(T.changeOf(edit(3, 1, 'x')), { kind: 'edit', target: id(1) });
});

test('a delete leaves a tombstone without text or reactions; nothing changes it after', () => {
	const tl = T.timelineNew();
	T.timelineAdd(tl, [env(1), react(2, 1, '👍')]);
	assert.deepEqual(tl.byId.get(id(1)).reactions, { '👍': 1 });
	const r = T.timelineAdd(tl, [del(3, 1)]);
	assert.deepEqual(r, { added: [], changed: [id(1)] });
	const m = tl.byId.get(id(1));
	assert.equal(m.deleted, true);
	assert.equal(m.text, undefined);
	assert.equal(m.reactions, undefined);
	assert.deepEqual(T.timelineAdd(tl, [edit(4, 1, 'back'), react(5, 1, '❤️')]).changed, []);
	assert.equal(tl.byId.get(id(1)).text, undefined);
	assert.deepEqual(tl.ids, [id(1)]);
});

test('reactions count per reaction, one per user, "" takes it back', () => {
	const tl = T.timelineNew();
	T.timelineAdd(tl, [env(1)]);
	T.timelineAdd(tl, [react(2, 1, '👍', 'bob'), react(3, 1, '👍', 'carol'), react(4, 1, '❤️', 'dave')]);
	assert.deepEqual(tl.byId.get(id(1)).reactions, { '👍': 2, '❤️': 1 });
	T.timelineAdd(tl, [react(5, 1, '❤️', 'bob'), react(6, 1, '', 'dave')]);
	assert.deepEqual(tl.byId.get(id(1)).reactions, { '👍': 1, '❤️': 1 });
	T.timelineAdd(tl, [react(7, 1, '', 'bob'), react(8, 1, '', 'carol')]);
	assert.equal(tl.byId.get(id(1)).reactions, undefined);
	assert.deepEqual(tl.ids, [id(1)]);
});

test('history pages: served state is shown as it stands, live reactions add to its counts', () => {
	const tl = T.timelineNew();
	const served = [
		{ ...env(1), text: 'latest', edited: 9 },
		{ id: id(2), room: 'r', from: 'alice', ts: 2, type: 'text', deleted: true, edited: 8 },
		{ ...env(3), reactions: { '👍': 2 } },
	];
	const r = T.timelineAdd(tl, served, { served: true });
	assert.equal(r.added.length, 3);
	assert.equal(tl.byId.get(id(1)).text, 'latest');
	assert.equal(tl.byId.get(id(2)).deleted, true);
	assert.deepEqual(tl.byId.get(id(3)).reactions, { '👍': 2 });
	T.timelineAdd(tl, [react(10, 3, '👍', 'dave'), react(11, 3, '🎉', 'erin')]);
	assert.deepEqual(tl.byId.get(id(3)).reactions, { '👍': 3, '🎉': 1 });
	// A live edit older than the served one is not applied.
	T.timelineAdd(tl, [edit(5, 1, 'stale')]);
	assert.equal(tl.byId.get(id(1)).text, 'latest');
});

test('a change that comes before its message waits for it and never shows as a message', () => {
	const tl = T.timelineNew();
	const early = T.timelineAdd(tl, [edit(5, 1, 'edited early'), react(6, 2, '👍'), del(7, 3), react(8, 4, '👍')]);
	assert.deepEqual(early, { added: [], changed: [] });
	assert.deepEqual(tl.ids, []);
	// The originals arrive live: every change applies.
	const live = T.timelineAdd(tl, [env(1), env(2)]);
	assert.deepEqual(live.added.map((m) => m.text), ['edited early', 'm2']);
	assert.equal(live.added[0].edited, 5);
	assert.deepEqual(live.added[1].reactions, { '👍': 1 });
	// From a history page: its counts have the reaction already; a delete
	// still applies.
	const page = T.timelineAdd(tl, [{ ...env(4), reactions: { '👍': 1 } }, env(3)], { served: true });
	assert.deepEqual(page.added.map((m) => m.id), [id(3), id(4)]);
	assert.equal(tl.byId.get(id(3)).deleted, true);
	assert.equal(tl.byId.get(id(3)).text, undefined);
	assert.deepEqual(tl.byId.get(id(4)).reactions, { '👍': 1 });
	assert.deepEqual(tl.ids, [id(1), id(2), id(3), id(4)]);
	assert.equal(tl.waiting.size, 0);
});

test('a change naming no valid id is dropped', () => {
	const tl = T.timelineNew();
	assert.deepEqual(T.timelineAdd(tl, [change(1, 'a', { edit: 'nope', text: 'x' }), change(2, 'a', { type: 'delete', delete: 5 })]), { added: [], changed: [] });
	assert.equal(tl.waiting.size, 0);
	assert.deepEqual(tl.ids, []);
});
