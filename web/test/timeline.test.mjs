// SPDX-License-Identifier: MIT
// Unit tests of timeline.js (node --test): dedup by envelope id, order,
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
