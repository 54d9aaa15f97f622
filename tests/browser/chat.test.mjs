// SPDX-License-Identifier: MIT
//
// The web chat in a real browser: Debian's Chromium driven by
// playwright-core, against the broker, plugin, bridge and stand-in that
// stack.c started (ports in the environment). It builds the app, serves it
// with web/serve.mjs through a TCP relay it can cut (a dropped network),
// and walks what users do: log in with a password and with a JWT, unread
// counts, scroll-back through history, two users chatting (text shown as
// text, Korean input with an IME), typing, an edit, reaction, reply and
// delete from another client shown in place (and from history), a refused message with its reason, a
// DM, a reconnect that fills the gap without duplicates, a member removed
// by an admin who stops receiving. Each step fails the run when the page
// does not show what it should; a screenshot of every page is kept under
// CHAT_TEST_OUT then (and always with CHAT_BROWSER_SHOTS=1).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const env = (name) => {
	const v = process.env[name];
	if (!v) throw new Error(`${name} is not set (stack.c sets it)`);
	return v;
};
const MQTT_PORT = Number(env('CHAT_MQTT_PORT'));
const WS_PORT = Number(env('CHAT_WS_PORT'));
const RUN_DIR = env('CHAT_RUN_DIR');
const OUT = env('CHAT_TEST_OUT');
const WEB = env('CHAT_WEB_DIR');
const CHROMIUM = env('CHAT_CHROMIUM');
const WAIT = 10000;

const webRequire = createRequire(path.join(WEB, 'package.json'));
if (!fs.existsSync(path.join(WEB, 'node_modules'))) {
	throw new Error(`${WEB}/node_modules is missing: run "npm ci" in web/ (scripts/test does)`);
}
const { chromium } = webRequire('playwright-core');
const mqtt = webRequire('mqtt');
const { startServer } = await import(pathToFileURL(path.join(WEB, 'serve.mjs')).href);

const started = Date.now();
const log = (...a) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s]`, ...a);

// --- the parts around the browser ----------------------------------------

function buildApp() {
	const dist = path.join(OUT, 'web');
	execFileSync(process.execPath, [path.join(WEB, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], {
		cwd: WEB,
		env: { ...process.env, CHAT_WEB_OUT: dist },
		stdio: 'inherit',
	});
	return dist;
}

// A TCP relay to the broker's WebSockets listener that the test can cut
// and hold down, as a network that fails.
function startRelay(port) {
	const conns = new Set();
	const relay = { down: false, conns };
	relay.server = net.createServer((c) => {
		if (relay.down) return c.destroy();
		const up = net.connect(port, '127.0.0.1');
		conns.add(c);
		const close = () => {
			conns.delete(c);
			c.destroy();
			up.destroy();
		};
		c.on('error', close).on('close', close);
		up.on('error', close).on('close', close);
		c.pipe(up).pipe(c);
	});
	relay.cut = () => {
		relay.down = true;
		for (const c of conns) c.destroy();
	};
	return new Promise((resolve) => relay.server.listen(0, '127.0.0.1', () => resolve(relay)));
}

// An MQTT 5 client over TCP (the admin, or a user's other device).
async function tcpClient(user) {
	const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${MQTT_PORT}`, {
		protocolVersion: 5, username: user, password: `${user}-pw`, clientId: `${user}-node-${crypto.randomUUID().slice(0, 8)}`,
		reconnectPeriod: 0,
	});
	return c;
}

async function admin(client, commands) {
	const topic = `chat/users/admin/test-${crypto.randomUUID().slice(0, 8)}`;
	await client.subscribeAsync(topic, { qos: 1 });
	const reply = new Promise((resolve) => {
		const on = (t, payload) => {
			if (t !== topic) return;
			client.removeListener('message', on);
			resolve(JSON.parse(payload.toString()));
		};
		client.on('message', on);
	});
	await client.publishAsync('$CONTROL/chat/v1', JSON.stringify({ commands }), { qos: 1, properties: { responseTopic: topic } });
	const r = await reply;
	for (const x of r.responses) assert.equal(x.error, undefined, `admin ${x.command}: ${x.error}`);
	return r;
}

function jwtFor(user) {
	const secret = fs.readFileSync(path.join(RUN_DIR, 'jwt.secret'), 'utf8').trim();
	const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
	const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: user, exp: Math.floor(Date.now() / 1000) + 600 })}`;
	return `${body}.${crypto.createHmac('sha256', secret).update(body).digest('base64url')}`;
}

// --- the pages -----------------------------------------------------------

const pages = new Map(); // name -> page

async function openPage(browser, name, url) {
	const ctx = await browser.newContext({ viewport: { width: 1000, height: 640 }, locale: 'en-GB' });
	const page = await ctx.newPage();
	page.on('pageerror', (e) => log(`${name}: page error: ${e.message}`));
	page.on('console', (m) => m.type() === 'error' && log(`${name}: console: ${m.text()}`));
	await page.goto(url);
	pages.set(name, page);
	return page;
}

async function login(page, user, password) {
	await page.fill('#login-user', user);
	await page.fill('#login-password', password);
	await page.click('#login-submit');
}

async function loginOnline(page, user, password) {
	await login(page, user, password);
	await page.waitForSelector('#status[data-state="online"]', { timeout: WAIT });
}

const roomItem = (page, room) => page.locator(`#rooms li[data-room="${room}"]`);

async function openRoom(page, room) {
	await roomItem(page, room).click();
	await page.waitForFunction((r) => window.chatState.rooms.get(r)?.loaded, room, { timeout: WAIT });
}

const msgs = (page) => page.locator('#messages li.msg');
const texts = (page) => page.$$eval('#messages li.msg .text', (ns) => ns.map((n) => n.textContent));
const ids = (page) => page.$$eval('#messages li.msg', (ns) => ns.map((n) => n.dataset.id));

async function waitText(page, text) {
	await page.locator('#messages li.msg .text', { hasText: text }).first().waitFor({ timeout: WAIT });
}

async function sendFromPage(page, text) {
	await page.fill('#composer-text', text);
	await page.press('#composer-text', 'Enter');
}

function assertUniqueSorted(list, what) {
	assert.equal(new Set(list).size, list.length, `${what}: an envelope id shows twice`);
	assert.deepEqual([...list].sort(), list, `${what}: messages out of order`);
}

async function shots(suffix) {
	fs.mkdirSync(OUT, { recursive: true });
	for (const [name, page] of pages) {
		const file = path.join(OUT, `${name}${suffix}.png`);
		await page.screenshot({ path: file, fullPage: true }).catch(() => {});
		log(`screenshot ${file}`);
	}
}

// --- the steps -----------------------------------------------------------

async function run() {
	fs.mkdirSync(OUT, { recursive: true });
	for (const f of fs.readdirSync(OUT)) if (f.endsWith('.png')) fs.rmSync(path.join(OUT, f));
	const dist = buildApp();
	log('app built into', dist);
	const relay = await startRelay(WS_PORT);
	const server = await startServer({ dir: dist, listen: { host: '127.0.0.1', port: 0 }, mqtt: { host: '127.0.0.1', port: relay.server.address().port } });
	const url = `http://127.0.0.1:${server.address().port}/`;
	log('serving', url);

	const adm = await tcpClient('admin');
	await admin(adm, [
		{ command: 'createRoom', room: 'team', title: 'Team' },
		{ command: 'addRoomMember', room: 'team', user: 'alice', role: 'owner' },
		{ command: 'addRoomMember', room: 'team', user: 'bob' },
		{ command: 'addRoomMember', room: 'team', user: 'carol', role: 'reader' },
		{ command: 'createRoom', room: 'strict' },
		{ command: 'addRoomMember', room: 'strict', user: 'alice' },
		{ command: 'addRoomMember', room: 'strict', user: 'bob' },
		{ command: 'setRoomPolicy', room: 'strict', bannedWordsAction: 'reject' },
		{ command: 'addBannedWords', room: 'strict', words: ['pineapple'] },
	]);
	const aliceTcp = await tcpClient('alice');
	for (let i = 1; i <= 45; i++) {
		await aliceTcp.publishAsync('chat/rooms/team/messages', JSON.stringify({ text: `seed ${i}` }), { qos: 1 });
	}
	log('rooms made, 45 messages seeded');

	const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
	try {
		await steps(browser, url, adm, aliceTcp, relay);
		if (process.env.CHAT_BROWSER_SHOTS) await shots('');
	} catch (e) {
		await shots('-failure');
		throw e;
	} finally {
		await browser.close();
		await adm.endAsync();
		await aliceTcp.endAsync();
		server.close();
		relay.server.close();
	}
}

const typingLine = (page) => page.$eval('#typing', (n) => n.textContent);

// The messenger features on bob's page, both in "team": alice's typing on
// her page; an edit, a reaction, a reply and a delete from her phone
// (aliceTcp) change bob's view in place and add no message of their own.
async function messenger(alice, bob, aliceTcp) {
	await alice.fill('#composer-text', 'a thought');
	await bob.locator('#typing', { hasText: 'alice is typing…' }).waitFor({ timeout: WAIT });
	await alice.fill('#composer-text', '');
	await bob.waitForFunction(() => document.getElementById('typing').textContent === '', null, { timeout: WAIT });
	assert.equal(await typingLine(alice), '', 'a page shows its own user typing');
	log('ok: typing shows, and goes on typing:false');

	const pub = (m) => aliceTcp.publishAsync('chat/rooms/team/messages', JSON.stringify(m), { qos: 1 });
	await pub({ text: 'meeting at 10' });
	await waitText(bob, 'meeting at 10');
	const node = bob.locator('#messages li.msg', { hasText: 'meeting at 10' });
	const id = await node.getAttribute('data-id');
	const shown = await msgs(bob).count();
	const byId = bob.locator(`#messages li.msg[data-id="${id}"]`);
	await pub({ edit: id, text: 'meeting at 11' });
	await byId.locator('.text', { hasText: 'meeting at 11' }).waitFor({ timeout: WAIT });
	await byId.locator('.edited').waitFor({ timeout: WAIT });
	await pub({ react: id, reaction: '👍' });
	await byId.locator('.reaction', { hasText: '👍 1' }).waitFor({ timeout: WAIT });
	await pub({ text: 'or 12?', reply: id });
	await bob.locator('#messages li.msg .quote', { hasText: '↪ alice: meeting at 11' }).waitFor({ timeout: WAIT });
	assert.equal(await msgs(bob).count(), shown + 1, 'an edit or reaction showed as a message');
	assert.equal((await texts(bob)).at(-1), 'or 12?');
	if (process.env.CHAT_BROWSER_SHOTS) await shots('-edited');
	await pub({ delete: id });
	await byId.locator('.tombstone', { hasText: 'message deleted' }).waitFor({ timeout: WAIT });
	assert.equal(await byId.locator('.reaction, .edited').count(), 0, 'a tombstone kept reactions or "edited"');
	await bob.locator('#messages li.msg .quote', { hasText: '↪ alice: message deleted' }).waitFor({ timeout: WAIT });
	assert.equal(await msgs(bob).count(), shown + 1, 'a delete showed as a message');
	assert.equal(await bob.locator('#messages li.msg', { hasText: 'meeting at 1' }).count(), 0, 'the deleted text still shows');
	if (process.env.CHAT_BROWSER_SHOTS) await shots('-deleted');
	log('ok: an edit, a reaction, a reply and a delete from another client shown in place');

	// The same from the pages' buttons: alice edits and deletes her own
	// message, bob reacts to it.
	await sendFromPage(alice, 'see you at teh office');
	await waitText(bob, 'see you at teh office');
	const mine = alice.locator('#messages li.msg', { hasText: 'see you at teh office' });
	const mineId = await mine.getAttribute('data-id');
	assert.equal(await bob.locator(`#messages li.msg[data-id="${mineId}"] button[data-act="edit"]`).count(), 0, 'bob may edit alice\'s message');
	await mine.hover();
	await mine.locator('button[data-act="edit"]').click();
	await alice.locator('#composing', { hasText: 'Editing' }).waitFor({ timeout: WAIT });
	await alice.fill('#composer-text', 'see you at the office');
	await alice.press('#composer-text', 'Enter');
	const onBob = bob.locator(`#messages li.msg[data-id="${mineId}"]`);
	await onBob.locator('.text', { hasText: 'see you at the office' }).waitFor({ timeout: WAIT });
	await onBob.locator('.edited').waitFor({ timeout: WAIT });
	await onBob.hover();
	await onBob.locator('button[data-act="react"]').click();
	const onAlice = alice.locator(`#messages li.msg[data-id="${mineId}"]`);
	await onAlice.locator('.reaction', { hasText: '👍 1' }).waitFor({ timeout: WAIT });
	alice.once('dialog', (d) => d.accept());
	await onAlice.hover();
	await onAlice.locator('button[data-act="delete"]').click();
	await onBob.locator('.tombstone').waitFor({ timeout: WAIT });
	await onBob.hover();
	assert.equal(await msgs(bob).count(), shown + 2, 'a change from the page showed as a message');
	log('ok: edit, react and delete from the page');
}

async function steps(browser, url, adm, aliceTcp, relay) {
	// A wrong password is refused at the login form.
	const mallory = await openPage(browser, 'refused-login', url);
	await login(mallory, 'bob', 'not-bobs-password');
	await mallory.locator('#login-error', { hasText: 'Login refused' }).waitFor({ timeout: WAIT });
	log('ok: a wrong password is refused');

	const alice = await openPage(browser, 'alice', url);
	const bob = await openPage(browser, 'bob', url);
	await loginOnline(alice, 'alice', 'alice-pw');
	await loginOnline(bob, 'bob', 'bob-pw');

	// Unread: bob has read nothing of alice's 45 messages.
	await roomItem(bob, 'team').locator('.unread', { hasText: '45' }).waitFor({ timeout: WAIT });
	log('ok: rooms list with unread counts');

	// Scroll-back: the newest page, then older pages up to the first message.
	await openRoom(bob, 'team');
	assert.equal(await msgs(bob).count(), 30);
	assert.equal((await texts(bob)).at(-1), 'seed 45');
	for (let i = 0; i < 5 && (await msgs(bob).count()) < 45; i++) {
		await bob.evaluate(() => { document.getElementById('scroller').scrollTop = 0; });
		await bob.waitForTimeout(300);
	}
	await bob.locator('#history-state', { hasText: 'the beginning of this room' }).waitFor({ timeout: WAIT });
	const seeded = await texts(bob);
	assert.deepEqual(seeded, Array.from({ length: 45 }, (_, i) => `seed ${i + 1}`));
	assertUniqueSorted(await ids(bob), 'scroll-back');
	await roomItem(bob, 'team').locator('.unread:empty').waitFor({ timeout: WAIT, state: 'attached' });
	log('ok: scroll-back through history, 45 messages once each');

	// Two users chat; markup shows as text.
	await openRoom(alice, 'team');
	const markup = 'hello <b>bob</b> & <img src=x onerror=alert(1)>';
	await sendFromPage(alice, markup);
	await waitText(bob, 'hello <b>bob</b>');
	assert.equal((await texts(bob)).at(-1), markup);
	assert.equal(await bob.locator('#messages b, #messages img').count(), 0, 'a message was rendered as HTML');

	// Korean through an input method (Chromium's IME interface over CDP):
	// Enter while a syllable is being composed ends the composition and
	// must not send.
	const ime = await bob.context().newCDPSession(bob);
	const compose = (text) => ime.send('Input.imeSetComposition', { text, selectionStart: text.length, selectionEnd: text.length });
	const key = (type) => ime.send('Input.dispatchKeyEvent', { type, key: 'Enter', code: 'Enter', windowsVirtualKeyCode: 229 });
	await bob.click('#composer-text');
	for (const t of ['ㅇ', '아', '안']) await compose(t);
	await ime.send('Input.insertText', { text: '안' });
	for (const t of ['ㄴ', '녀', '녕']) await compose(t);
	await key('keyDown');
	await key('keyUp');
	await ime.send('Input.insertText', { text: '녕' });
	await bob.waitForTimeout(200);
	assert.equal(await bob.inputValue('#composer-text'), '안녕', 'Enter during IME composition sent the message');
	assert.equal(await bob.locator('#pending li').count(), 0, 'Enter during IME composition sent the message');
	await bob.keyboard.insertText('하세요, 앨리스');
	await bob.press('#composer-text', 'Enter');
	await waitText(alice, '안녕하세요, 앨리스');
	assert.equal(await bob.inputValue('#composer-text'), '');
	log('ok: two users chat, text as text, Korean IME');

	await messenger(alice, bob, aliceTcp);

	// Read markers: bob read everything; his marker is the newest id (at the
	// end, stack.c checks that the bridge stored his last one).
	const newest = (await ids(bob)).at(-1);
	await bob.waitForFunction((id) => localStorage.getItem('mchat.read.bob.team') === id, newest, { timeout: WAIT });
	log('ok: read marker moved to', newest);

	// A refused message shows its reason.
	await openRoom(alice, 'strict');
	await sendFromPage(alice, 'I like pineapple on pizza');
	await alice.locator('#pending li.failed .reason', { hasText: 'Not sent: it contains a banned word' }).waitFor({ timeout: WAIT });
	log('ok: a refused message shows why');

	// Unread while elsewhere: bob in "strict", alice writes in "team".
	await openRoom(bob, 'strict');
	await aliceTcp.publishAsync('chat/rooms/team/messages', 'are you there?', { qos: 1 });
	await roomItem(bob, 'team').locator('.unread', { hasText: '1' }).waitFor({ timeout: WAIT });
	await openRoom(bob, 'team');
	await waitText(bob, 'are you there?');
	await roomItem(bob, 'team').locator('.unread:empty').waitFor({ timeout: WAIT, state: 'attached' });
	log('ok: unread count in another room, cleared on reading');

	// A reader logs in with a JWT, sees the room, cannot write.
	const carol = await openPage(browser, 'carol', url);
	await loginOnline(carol, 'carol', jwtFor('carol'));
	await openRoom(carol, 'team');
	await waitText(carol, 'are you there?');
	// From history: the tombstone and the reply as they stand, the
	// changes no messages of their own.
	await carol.locator('#messages li.msg.deleted .tombstone', { hasText: 'message deleted' }).first().waitFor({ timeout: WAIT });
	await carol.locator('#messages li.msg .quote', { hasText: '↪ alice: message deleted' }).waitFor({ timeout: WAIT });
	assert.equal((await texts(carol)).filter((t) => /^\[/.test(t)).length, 0, 'a change shows as a message in history');
	if (process.env.CHAT_BROWSER_SHOTS) await shots('-history');
	assert.equal(await carol.isDisabled('#composer-text'), true);
	await carol.locator('#room-notice', { hasText: 'read this room but not write' }).waitFor({ timeout: WAIT });
	log('ok: JWT login, a reader cannot write');

	// Presence: bob sees alice online, then carol offline after she leaves.
	await bob.locator('#people li[data-user="alice"] .dot.on').waitFor({ timeout: WAIT });
	await carol.close();
	pages.delete('carol');
	await bob.locator('#people li[data-user="carol"] .dot:not(.on)').waitFor({ timeout: WAIT });
	log('ok: presence');

	// A DM: alice opens one with bob from the people list.
	await alice.locator('#people li[data-user="bob"]').click();
	await sendFromPage(alice, 'psst, just us');
	await roomItem(bob, 'dm:alice:bob').locator('.unread', { hasText: '1' }).waitFor({ timeout: WAIT });
	await openRoom(bob, 'dm:alice:bob');
	await waitText(bob, 'psst, just us');
	await roomItem(alice, 'dm:alice:bob').waitFor({ timeout: WAIT });
	log('ok: direct messages');

	// The network drops; alice goes on writing from her phone; bob comes
	// back and sees each message once.
	await openRoom(bob, 'team');
	const before = await ids(bob);
	relay.cut();
	await bob.waitForSelector('#status[data-state="offline"]', { timeout: WAIT });
	for (let i = 1; i <= 3; i++) {
		await aliceTcp.publishAsync('chat/rooms/team/messages', JSON.stringify({ text: `while you were away ${i}` }), { qos: 1 });
	}
	await bob.waitForTimeout(1500); // a few reconnect attempts fail
	relay.down = false;
	await bob.waitForSelector('#status[data-state="online"]', { timeout: WAIT });
	await waitText(bob, 'while you were away 3');
	await bob.waitForTimeout(500);
	const after = await ids(bob);
	assertUniqueSorted(after, 'after reconnect');
	assert.equal(after.length, before.length + 3, 'the gap was not filled exactly');
	assert.deepEqual((await texts(bob)).slice(-3), ['while you were away 1', 'while you were away 2', 'while you were away 3']);
	log('ok: reconnect fills the gap without duplicates');

	// The admin removes bob: team leaves his rooms list and nothing of it
	// reaches his page any more.
	await admin(adm, [{ command: 'removeRoomMember', room: 'team', user: 'bob' }]);
	await roomItem(bob, 'team').waitFor({ state: 'detached', timeout: WAIT });
	await bob.locator('#room-notice', { hasText: 'no longer a member' }).waitFor({ timeout: WAIT });
	const count = await msgs(bob).count();
	await openRoom(alice, 'team');
	await sendFromPage(alice, 'bob should not see this');
	await waitText(alice, 'bob should not see this');
	await aliceTcp.publishAsync('chat/rooms/team/messages', 'nor this', { qos: 1 });
	await bob.waitForTimeout(1000);
	assert.equal(await msgs(bob).count(), count, 'a removed member still received');
	const got = await bob.evaluate(() => window.chatState.rooms.get('team').tl.ids.length);
	assert.equal(got, count);
	log('ok: a removed member stops receiving');

	// A ban ends bob's session; the page stops retrying and says so.
	await admin(adm, [{ command: 'banUser', user: 'bob', seconds: 60 }]);
	await bob.locator('#login-error', { hasText: 'Your session ended' }).waitFor({ timeout: WAIT });
	log('ok: a banned user is sent back to the login form');

	const marker = await bob.evaluate(() => localStorage.getItem('mchat.read.bob.team'));
	assert.ok(marker > newest, 'the marker did not move on as bob read on');
	fs.writeFileSync(path.join(OUT, 'bob-team-marker'), `${marker}\n`);
}

try {
	await run();
	log('all steps passed');
} catch (e) {
	console.error(e);
	process.exitCode = 1;
}
