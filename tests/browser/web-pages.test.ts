/**
 * The example pages in a real browser (headless Chromium): an AMQP publisher and an MQTT device over TCP publish,
 * the page shows their messages; the page publishes, an AMQP consumer receives it. A screenshot of each page is saved
 * to tests/browser/artifacts/.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import amqp, { type ChannelModel, type ConsumeMessage } from 'amqplib';
import mqtt, { type MqttClient } from 'mqtt';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS, hasChromium, launchBrowser, startWebTarget, type WebTarget } from './harness.js';

let target: WebTarget | undefined;
let browser: { context: BrowserContext; close(): Promise<void> } | undefined;
let amqpConn: ChannelModel | undefined;
const devices: MqttClient[] = [];
const pages: Page[] = [];

beforeAll(async () => {
  if (!hasChromium) return;
  target = await startWebTarget();
  if (target === undefined) return;
  browser = await launchBrowser();
  amqpConn = await amqp.connect(target.amqpUrl);
}, 60_000);

afterEach(async () => {
  for (const d of devices.splice(0)) d.end(true);
  await Promise.all(pages.splice(0).map((p) => p.close()));
});

afterAll(async () => {
  await amqpConn?.close().catch(() => {});
  await browser?.close();
  await target?.stop();
});

/** An AMQP consumer of amq.topic messages matching `bindingKey`, ready once this resolves; `first` is its first. */
async function consumeOne(bindingKey: string): Promise<{ first: Promise<ConsumeMessage> }> {
  const ch = await amqpConn!.createChannel();
  const { queue } = await ch.assertQueue('', { exclusive: true });
  await ch.bindQueue(queue, 'amq.topic', bindingKey);
  let resolveFirst!: (msg: ConsumeMessage) => void;
  const first = new Promise<ConsumeMessage>((resolve) => (resolveFirst = resolve));
  await ch.consume(
    queue,
    (msg) => {
      if (msg !== null) {
        resolveFirst(msg);
        void ch.close().catch(() => {});
      }
    },
    { noAck: true },
  );
  return { first };
}

async function amqpPublish(routingKey: string, body: string): Promise<void> {
  const ch = await amqpConn!.createConfirmChannel();
  ch.publish('amq.topic', routingKey, Buffer.from(body));
  await ch.waitForConfirms();
  await ch.close();
}

async function mqttDevice(): Promise<MqttClient> {
  const client = await mqtt.connectAsync(target!.mqttUrl, {
    username: 'guest',
    password: 'guest',
    clientId: `browser-device-${randomBytes(4).toString('hex')}`,
    reconnectPeriod: 0,
  });
  devices.push(client);
  return client;
}

async function openPage(url: string): Promise<Page> {
  const page = await browser!.context.newPage();
  pages.push(page);
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(url);
  // The page says "connected, subscribed to ..." once its subscription is in place.
  await page.locator('#status.connected').waitFor({ timeout: 15_000 });
  expect(errors).toEqual([]);
  return page;
}

const run = hasChromium ? describe : describe.skip;

run('example pages in headless Chromium', () => {
  it('web-stomp page: shows AMQP and MQTT messages live, and its form reaches an AMQP consumer', async (ctx) => {
    if (target === undefined) ctx.skip();
    const id = `b${randomBytes(4).toString('hex')}`;
    const page = await openPage(
      `${target!.webStompUrl}/?subscribe=/topic/${id}.%23&destination=/topic/${id}.page`,
    );
    expect(await page.locator('#url').textContent()).toMatch(/^ws:\/\/.*\/ws$/);

    await amqpPublish(`${id}.amqp`, 'temperature from an AMQP publisher');
    await page.locator('#messages li', { hasText: 'temperature from an AMQP publisher' }).waitFor();

    const device = await mqttDevice();
    await device.publishAsync(`${id}/kitchen/humidity`, '41%');
    const li = page.locator('#messages li', { hasText: '41%' });
    await li.waitFor();
    expect(await li.locator('.dest').textContent()).toBe(`/topic/${id}.kitchen.humidity`);

    const received = await consumeOne(`${id}.page`);
    await page.fill('#body', 'start the workers');
    await page.click('#publish');
    const msg = await received.first;
    expect(msg.content.toString()).toBe('start the workers');
    expect(msg.fields.routingKey).toBe(`${id}.page`);
    await page.screenshot({ path: join(ARTIFACTS, 'web-stomp.png'), fullPage: true });
  });

  it('web-mqtt page: a live dashboard of MQTT and AMQP messages, and its form reaches an AMQP consumer', async (ctx) => {
    if (target === undefined) ctx.skip();
    const id = `b${randomBytes(4).toString('hex')}`;
    const page = await openPage(`${target!.webMqttUrl}/?filter=${id}/%23&topic=${id}/commands/page`);

    const device = await mqttDevice();
    await device.publishAsync(`${id}/kitchen/temp`, '21.5');
    const row = page.locator(`#latest tr[data-topic="${id}/kitchen/temp"]`);
    await row.locator('.value', { hasText: '21.5' }).waitFor();
    await device.publishAsync(`${id}/kitchen/temp`, '22.0');
    await row.locator('.value', { hasText: '22.0' }).waitFor();
    expect(await row.locator('.count').textContent()).toBe('2');

    await amqpPublish(`${id}.hall.temp`, '19.0');
    await page.locator(`#latest tr[data-topic="${id}/hall/temp"] .value`, { hasText: '19.0' }).waitFor();

    const received = await consumeOne(`${id}.commands.#`);
    await page.fill('#payload', 'open the window');
    await page.click('#publish');
    const msg = await received.first;
    expect(msg.content.toString()).toBe('open the window');
    expect(msg.fields.routingKey).toBe(`${id}.commands.page`);
    await page.screenshot({ path: join(ARTIFACTS, 'web-mqtt.png'), fullPage: true });
  });
});
