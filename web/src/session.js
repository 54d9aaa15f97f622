// SPDX-License-Identifier: MIT
//
// One user's MQTT 5 session over WebSockets (MQTT.js), seen as chat: the
// rooms list, room messages, events and typing, presence, the inbox (refusal
// notices), history requests answered on a v5 Response Topic, read markers
// and sends. It emits what arrives as DOM events on itself and knows
// nothing of the page. After a reconnect (clean start: the broker forgot
// the subscriptions) it subscribes again and emits "connected" with
// reconnect=true, so the page can fill the gap from history.
import mqtt from 'mqtt';

const HISTORY_TIMEOUT_MS = 10000;

function randomToken(n) {
	const a = new Uint8Array(n);
	crypto.getRandomValues(a);
	return Array.from(a, (b) => (b % 36).toString(36)).join('');
}

function parseJson(payload) {
	try {
		return JSON.parse(new TextDecoder().decode(payload));
	} catch {
		return null;
	}
}

// The SUBACK codes of a subscribe that MQTT.js reports as an error: it puts
// them in err.packet.granted, not in err.code.
function refusedCode(err) {
	const granted = err && err.packet && err.packet.granted;
	const bad = Array.isArray(granted) ? granted.find((c) => c >= 0x80) : undefined;
	return bad === undefined ? null : bad;
}

export class ChatSession extends EventTarget {
	constructor({ url, username, password }) {
		super();
		this.url = url;
		this.me = username;
		this.password = password;
		this.tab = randomToken(8);
		this.responseTopic = `chat/users/${username}/web-${this.tab}`;
		this.rooms = new Set(); // rooms whose topics we subscribe to
		this.pending = new Map(); // history cid -> {resolve, reject, timer}
		this.seq = 0;
		this.client = null;
		this.everConnected = false;
	}

	emit(type, detail) {
		this.dispatchEvent(new CustomEvent(type, { detail }));
	}

	start() {
		this.client = mqtt.connect(this.url, {
			protocolVersion: 5,
			clientId: `${this.me}-web-${this.tab}`,
			username: this.me,
			password: this.password,
			clean: true,
			resubscribe: false, // subscribe() below runs on every connect
			reconnectPeriod: 1000,
			connectTimeout: 10000,
			keepalive: 30,
		});
		this.client.on('connect', () => this.onConnect());
		this.client.on('message', (topic, payload) => this.onMessage(topic, payload));
		this.client.on('close', () => this.onClose());
		this.client.on('error', (err) => this.emit('failure', { message: err.message, code: err.code }));
	}

	end() {
		if (this.client) this.client.end(true);
	}

	// Drops the WebSocket as a failing network would, and lets MQTT.js
	// reconnect by itself (for the reconnect test and a "go offline" button).
	dropConnection() {
		if (this.client && this.client.stream) this.client.stream.destroy();
	}

	async onConnect() {
		const reconnect = this.everConnected;
		// The rooms known now: a room joined while the awaits below run
		// subscribes itself (a second SUBSCRIBE of a filter would make
		// Mosquitto 2.0.11 leak the first).
		const rooms = [...this.rooms];
		this.everConnected = true;
		const base = [`chat/users/${this.me}/rooms`, `chat/users/${this.me}/inbox`, this.responseTopic];
		await this.subscribe(base);
		await this.subscribePresence();
		for (const room of rooms) if (this.rooms.has(room)) await this.subscribeRoomTopics(room);
		this.emit('connected', { reconnect });
	}

	onClose() {
		for (const [cid, p] of this.pending) {
			clearTimeout(p.timer);
			p.reject(new Error('connection lost'));
			this.pending.delete(cid);
		}
		this.emit('disconnected', {});
	}

	// Subscribes to filters at QoS 1; resolves with the refused code (null
	// when granted).
	subscribe(filters) {
		return this.client.subscribeAsync(filters, { qos: 1 }).then(
			() => null,
			(err) => refusedCode(err) ?? -1,
		);
	}

	async subscribePresence() {
		// Refused when the broker's presence policy is not "all".
		const code = await this.subscribe(['chat/presence/+']);
		this.presenceAll = code === null;
	}

	// The typing topic on its own: the room works without it.
	async subscribeRoomTopics(room) {
		const code = await this.subscribe([`chat/rooms/${room}/messages`, `chat/rooms/${room}/events`]);
		if (code === null) await this.subscribe([`chat/rooms/${room}/typing`]);
		return code;
	}

	// Starts receiving a room (a rooms-list entry, or a DM not yet opened).
	async joinRoom(room) {
		if (this.rooms.has(room)) return null;
		this.rooms.add(room);
		if (!this.client.connected) return null;
		const code = await this.subscribeRoomTopics(room);
		if (code !== null) this.rooms.delete(room);
		return code;
	}

	leaveRoom(room) {
		if (!this.rooms.delete(room)) return;
		if (this.client.connected) {
			this.client.unsubscribe([`chat/rooms/${room}/messages`, `chat/rooms/${room}/events`, `chat/rooms/${room}/typing`]);
		}
	}

	watchPresence(user) {
		if (!this.presenceAll && this.client.connected) this.subscribe([`chat/presence/${user}`]);
	}

	onMessage(topic, payload) {
		const parts = topic.split('/');
		const body = parseJson(payload);
		if (!body) return;
		if (parts[1] === 'rooms' && parts.length === 4) {
			const kind = { messages: 'message', typing: 'typing' }[parts[3]] || 'event';
			this.emit(kind, { room: parts[2], body });
		} else if (topic === `chat/users/${this.me}/rooms`) {
			if (Array.isArray(body)) this.emit('rooms', { rooms: body });
		} else if (parts[1] === 'presence') {
			this.emit('presence', body);
		} else if (body.type === 'history' && this.pending.has(body.cid)) {
			const p = this.pending.get(body.cid);
			this.pending.delete(body.cid);
			clearTimeout(p.timer);
			if (body.error) p.reject(new Error(body.error));
			else p.resolve(body);
		} else if (topic === `chat/users/${this.me}/inbox`) {
			this.emit('notice', body);
		}
	}

	// Asks the bridge for a page of a room's history ({before|after, limit});
	// resolves with {messages (newest first), more}.
	history(room, query) {
		const cid = `h${++this.seq}-${this.tab}`;
		const payload = JSON.stringify({ ...query, cid });
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => {
				this.pending.delete(cid);
				reject(new Error('no answer from the history service'));
			}, HISTORY_TIMEOUT_MS);
			this.pending.set(cid, { resolve, reject, timer });
			this.client.publish(`chat/rooms/${room}/history`, payload, {
				qos: 1,
				properties: { responseTopic: this.responseTopic },
			});
		});
	}

	// Sends text; resolves with the cid once the broker took it (PUBACK
	// success), rejects with err.code = the PUBACK reason code when refused.
	// The reason in words comes on the inbox, carrying the same cid.
	// extra: {reply: id} for a reply, {edit: id} for an edit.
	send(room, text, cid, extra = {}) {
		const payload = JSON.stringify({ ...extra, text, cid });
		return this.client.publishAsync(`chat/rooms/${room}/messages`, payload, { qos: 1 }).then(() => cid);
	}

	// Says the user is typing (or stopped): QoS 0, as the plugin drops
	// what comes sooner than its interval.
	typing(room, on) {
		if (this.client && this.client.connected) {
			this.client.publish(`chat/rooms/${room}/typing`, JSON.stringify({ typing: on }), { qos: 0 });
		}
	}

	// A delete ({delete: id}) or a reaction ({react: id, reaction}); a
	// refusal comes on the inbox like a message's.
	change(room, body) {
		return this.client.publishAsync(`chat/rooms/${room}/messages`, JSON.stringify(body), { qos: 1 });
	}

	newCid() {
		return `c${++this.seq}-${this.tab}`;
	}

	markRead(room, id) {
		this.client.publish(`chat/rooms/${room}/read`, JSON.stringify({ upto: id }), { qos: 1 });
	}
}
