// SPDX-License-Identifier: MIT
// Vite builds the page into dist/ (or CHAT_WEB_OUT), with relative asset
// paths so it can be served from any directory.
import { defineConfig } from 'vite';

export default defineConfig({
	base: './',
	build: {
		outDir: process.env.CHAT_WEB_OUT || 'dist',
		emptyOutDir: true,
		target: 'es2020',
	},
});
