#!/usr/bin/env node
// SPDX-License-Identifier: MIT
//
// A small server for the built web chat, for the demo and the browser
// tests (production puts nginx in front, docker/): serves the files of one
// directory and forwards WebSocket upgrades on /mqtt to the broker's
// WebSockets listener, so the page reaches MQTT on its own origin as it
// does behind nginx. Only GET and HEAD; only files under the directory.
//
//   node serve.mjs --dir DIST --listen 127.0.0.1:8080 --mqtt 127.0.0.1:9001
//
// Prints "serving http://HOST:PORT/" once it listens (port 0 = any free one).
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
	'.html': 'text/html; charset=utf-8',
	'.js': 'text/javascript; charset=utf-8',
	'.css': 'text/css; charset=utf-8',
	'.svg': 'image/svg+xml',
	'.png': 'image/png',
	'.ico': 'image/x-icon',
	'.json': 'application/json',
	'.map': 'application/json',
};

function splitHostPort(s, what) {
	const i = s.lastIndexOf(':');
	const port = Number(s.slice(i + 1));
	if (i < 1 || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${what}: want HOST:PORT, got ${s}`);
	return { host: s.slice(0, i), port };
}

// The file a request path names inside root, or null when it names none.
function fileFor(root, urlPath) {
	let p;
	try {
		p = decodeURIComponent(urlPath.split('?')[0]);
	} catch {
		return null;
	}
	if (p.includes('\0')) return null;
	const full = path.resolve(root, '.' + (p.endsWith('/') ? p + 'index.html' : p));
	return full === root || full.startsWith(root + path.sep) ? full : null;
}

function serveFile(root, req, res) {
	const file = req.method === 'GET' || req.method === 'HEAD' ? fileFor(root, req.url) : null;
	fs.stat(file || '', (err, s) => {
		if (!file || err || !s.isFile()) {
			res.writeHead(req.method === 'GET' || req.method === 'HEAD' ? 404 : 405, { 'content-type': 'text/plain' });
			res.end('not found\n');
			return;
		}
		res.writeHead(200, {
			'content-type': TYPES[path.extname(file)] || 'application/octet-stream',
			'content-length': s.size,
			'x-content-type-options': 'nosniff',
			'cache-control': file.includes(`${path.sep}assets${path.sep}`) ? 'max-age=31536000, immutable' : 'no-cache',
		});
		if (req.method === 'HEAD') res.end();
		else fs.createReadStream(file).pipe(res);
	});
}

// Forwards the upgrade request as it came (headers included) and then
// bytes both ways.
function forwardUpgrade(mqtt, req, socket, head) {
	if (req.url.split('?')[0] !== '/mqtt') {
		socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
		return;
	}
	const up = net.connect(mqtt.port, mqtt.host, () => {
		const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
		for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
		up.write(lines.join('\r\n') + '\r\n\r\n');
		if (head && head.length) up.write(head);
		up.pipe(socket);
		socket.pipe(up);
	});
	const close = () => {
		up.destroy();
		socket.destroy();
	};
	up.on('error', close);
	socket.on('error', close);
	up.on('close', close);
	socket.on('close', close);
}

// Starts the server; resolves with the http.Server once it listens.
export function startServer({ dir, listen, mqtt }) {
	const root = path.resolve(dir);
	const server = http.createServer((req, res) => serveFile(root, req, res));
	server.on('upgrade', (req, socket, head) => forwardUpgrade(mqtt, req, socket, head));
	return new Promise((resolve, reject) => {
		server.once('error', reject);
		server.listen(listen.port, listen.host, () => resolve(server));
	});
}

function parseArgs(argv) {
	const opt = { dir: 'dist', listen: '127.0.0.1:8080', mqtt: '127.0.0.1:9001' };
	for (let i = 0; i < argv.length; i += 2) {
		const key = argv[i].replace(/^--/, '');
		if (!(key in opt) || argv[i + 1] === undefined) throw new Error(`usage: serve.mjs [--dir DIR] [--listen HOST:PORT] [--mqtt HOST:PORT]`);
		opt[key] = argv[i + 1];
	}
	return { dir: opt.dir, listen: splitHostPort(opt.listen, '--listen'), mqtt: splitHostPort(opt.mqtt, '--mqtt') };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	try {
		const opt = parseArgs(process.argv.slice(2));
		if (!fs.existsSync(path.join(opt.dir, 'index.html'))) throw new Error(`${opt.dir}/index.html is missing: build the app first (npm run build)`);
		const server = await startServer(opt);
		const a = server.address();
		console.log(`serving http://${a.address}:${a.port}/ (MQTT over WebSockets on /mqtt -> ${opt.mqtt.host}:${opt.mqtt.port})`);
	} catch (e) {
		console.error(`serve.mjs: ${e.message}`);
		process.exit(1);
	}
}
