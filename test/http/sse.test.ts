/**
 * The SSE module on the real @hono/node-server with a real client: the node
 * server pulls from the stream only while the socket drains (so a client that
 * does not read makes the outbox grow until the bound cuts it), a client that
 * leaves ends the stream at once, end() finishes cleanly, and the wire format.
 */
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptsEventStream, formatEvent, SSE_HEADERS, type SseEndReason, SseStream, SseStreams } from '../../src/http/sse.js';
import { openSse } from './sse-client.js';

const LIMITS = { keepaliveMs: 60_000, flushGraceMs: 200, maxBufferedBytes: 256 * 1024, maxBufferedEvents: 1000 };

describe('SseStream on @hono/node-server', () => {
  let server: Server;
  let url: string;
  const streams = new SseStreams();
  /** The stream of the latest request, and how it ended. */
  let latest: { stream: SseStream; ended: Promise<SseEndReason> } | undefined;

  beforeAll(async () => {
    const app = new Hono<{ Bindings: { outgoing: ServerResponse } }>();
    app.get('/stream', (c) => {
      const stream = new SseStream(LIMITS, streams, () => c.env.outgoing.destroy());
      const ended = new Promise<SseEndReason>((resolve) => stream.onClose(resolve));
      latest = { stream, ended };
      return new Response(stream.body, { headers: SSE_HEADERS });
    });
    server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }) as Server;
    await new Promise((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('a client that reads gets every event in order, then a clean end', async () => {
    const client = await openSse(url, '/stream');
    const current = latest!;
    for (let i = 0; i < 50; i++) current.stream.send({ id: String(i), event: 'message', data: JSON.stringify({ i }) });
    const events = await client.waitForEvents(50);
    expect(events.map((e) => e.id)).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
    current.stream.end();
    expect(await client.ended).toBe('end');
    expect(await current.ended).toBe('server');
  });

  it('a client that stops reading is disconnected once the outbox passes its bound; nothing more is queued', async () => {
    const client = await openSse(url, '/stream');
    client.pause();
    const current = latest!;
    const frame = { event: 'message', data: 'x'.repeat(32 * 1024) };
    let sent = 0;
    let largest = 0;
    // The socket and kernel buffers take the first megabytes; after that only the outbox grows.
    while (current.stream.open && sent < 100_000) {
      current.stream.send(frame);
      sent++;
      largest = Math.max(largest, current.stream.buffered);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(current.stream.open).toBe(false);
    expect(largest).toBeLessThanOrEqual(LIMITS.maxBufferedBytes);
    // Further events are dropped, not queued.
    current.stream.send(frame);
    expect(current.stream.buffered).toBeLessThanOrEqual(LIMITS.maxBufferedBytes);
    // The socket never drains, so it is cut after the flush grace.
    expect(await current.ended).toBe('slow');
    expect(current.stream.buffered).toBe(0);
    client.resume();
    expect(await client.ended).toBe('aborted');
    expect(streams.size).toBe(0);
  });

  it('too many queued events also end the stream, whatever their size: the client gets the bound, then the end', async () => {
    const client = await openSse(url, '/stream');
    const current = latest!;
    // Without a turn of the event loop nothing is pulled: every event stays queued.
    for (let i = 0; i <= LIMITS.maxBufferedEvents; i++) current.stream.send({ event: 'message', data: String(i) });
    expect(current.stream.open).toBe(false);
    expect(await current.ended).toBe('slow');
    expect(await client.ended).toBe('end');
    expect(client.events.length).toBe(LIMITS.maxBufferedEvents);
  });

  it('a burst larger than the bound to a client that reads: it gets what fit, then a clean end (to resume with Last-Event-ID)', async () => {
    const client = await openSse(url, '/stream');
    const current = latest!;
    const data = 'z'.repeat(32 * 1024);
    for (let i = 0; i < 20; i++) current.stream.send({ id: String(i), event: 'message', data });
    expect(await client.ended).toBe('end');
    expect(await current.ended).toBe('slow');
    const ids = client.events.map((e) => e.id);
    const fit = Math.floor(LIMITS.maxBufferedBytes / formatEvent({ id: '10', event: 'message', data }).length);
    expect(ids.length).toBeGreaterThanOrEqual(fit - 1);
    expect(ids.length).toBeLessThan(20);
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => String(i)));
  });

  it('an event larger than the whole bound still reaches a client that reads: the bound is on a backlog, one event always fits', async () => {
    const client = await openSse(url, '/stream');
    const current = latest!;
    // Larger than maxBufferedBytes by itself: were it refused, every subscriber would be cut at this event, also after
    // each reconnect with Last-Event-ID, and the channel would be stuck for good.
    const data = 'w'.repeat(LIMITS.maxBufferedBytes + 1);
    current.stream.send({ id: '1', event: 'message', data });
    expect((await client.waitForEvents(1)).map((e) => [e.id, e.data.length])).toEqual([['1', data.length]]);
    current.stream.send({ id: '2', event: 'message', data: 'after' });
    expect((await client.waitForEvents(2)).map((e) => e.id)).toEqual(['1', '2']);
    expect(current.stream.open).toBe(true);
    current.stream.end();
    expect(await current.ended).toBe('server');
  });

  it('a client that disconnects ends the stream at once (the route unsubscribes in onClose)', async () => {
    const client = await openSse(url, '/stream');
    const current = latest!;
    expect(streams.size).toBe(1);
    client.close();
    expect(await current.ended).toBe('client');
    expect(current.stream.open).toBe(false);
    expect(streams.size).toBe(0);
  });

  it('endAll ends every open stream cleanly, and any stream opened afterwards at once', async () => {
    const local = new SseStreams();
    const a = new SseStream(LIMITS, local);
    const b = new SseStream(LIMITS, local);
    const reasons = Promise.all([a, b].map((s) => new Promise<SseEndReason>((resolve) => s.onClose(resolve))));
    a.send({ event: 'message', data: 'queued' });
    local.endAll();
    // Consumers read what was queued, then the end.
    const texts = await Promise.all([a, b].map((s) => new Response(s.body).text()));
    expect(texts).toEqual([formatEvent({ event: 'message', data: 'queued' }), '']);
    expect(await reasons).toEqual(['server', 'server']);
    const late = new SseStream(LIMITS, local);
    expect(late.open).toBe(false);
    expect(await new Response(late.body).text()).toBe('');
  });
});

describe('SSE wire format and negotiation', () => {
  it('formats id, event and data lines; multi-line data becomes several data lines', () => {
    expect(formatEvent({ id: '7', event: 'message', data: '{"a":1}' })).toBe('id: 7\nevent: message\ndata: {"a":1}\n\n');
    expect(formatEvent({ event: 'gap', data: 'a\nb' })).toBe('event: gap\ndata: a\ndata: b\n\n');
    expect(() => formatEvent({ id: 'a\nb', event: 'message', data: '' })).toThrow(/one line/);
  });

  it('admits text/event-stream when Accept is absent or allows it with q > 0', () => {
    for (const accept of [undefined, '', '*/*', 'text/*', 'text/event-stream', 'application/json, text/event-stream;q=0.5'])
      expect(acceptsEventStream(accept), String(accept)).toBe(true);
    for (const accept of ['application/json', 'text/html', 'text/event-stream;q=0', 'text/plain, application/*'])
      expect(acceptsEventStream(accept), accept).toBe(false);
  });
});
