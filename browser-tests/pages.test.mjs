// The payer's bill and the merchant console in Debian's Chromium, headless, against a
// spawned `userorder serve` on a fresh SQLite file. Screenshots land in target/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const binary = process.env.USERORDER_BIN ?? join(root, 'target', 'debug', 'userorder');
const shots = join(root, 'target', 'screenshots');
const ADMIN = 'browser-test-admin';
let server, base, browser;

function startServer() {
  const dir = mkdtempSync(join(tmpdir(), 'userorder-browser-'));
  const child = spawn(binary, ['serve', '--listen', '127.0.0.1:0', '--database', `sqlite://${join(dir, 'db.sqlite')}`,
    '--admin-token', ADMIN], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('userorder did not start')), 30000);
    let log = '';
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const found = /listening addr=(\S+)/.exec(log);
      if (found) { clearTimeout(timer); resolve({ child, base: `http://${found[1]}` }); }
    });
    child.on('exit', (code) => reject(new Error(`userorder exited ${code}: ${log}`)));
  });
}

async function sandbox(path, body) {
  const response = await fetch(`${base}/sandbox${path}`, {
    method: 'POST', headers: { authorization: `Bearer ${ADMIN}` }, body: JSON.stringify(body ?? {}),
  });
  const json = await response.json();
  assert.ok(response.ok, `${path}: ${JSON.stringify(json)}`);
  return json;
}

async function wechat(path, token, body) {
  const response = await fetch(`${base}${path}?access_token=${token}`, { method: 'POST', body: JSON.stringify(body) });
  const json = await response.json();
  assert.equal(json.errcode, 0, `${path}: ${JSON.stringify(json)}`);
}

const link = { type: 'URL', url: 'https://shop.example.com/o' };
const item = (name, unit_price, quantity, description) => ({
  name, description, unit_price, quantity, image_url: ['https://img.example.com/x.png'], item_detail_jump_link: link,
});

let shop;

before(async () => {
  mkdirSync(shots, { recursive: true });
  ({ child: server, base } = await startServer());
  const app = await sandbox('/apps', { name: 'Browser shop' });
  const { mchid } = await sandbox('/merchants', { appids: [app.appid] });
  const { openid } = await sandbox(`/apps/${app.appid}/openids`, {});
  const tokenAnswer = await (await fetch(`${base}/cgi-bin/token?grant_type=client_credential&appid=${app.appid}&secret=${app.secret}`)).json();
  const token = tokenAnswer.access_token;
  const key = (out_trade_no) => ({ order_number_type: 1, mchid, out_trade_no });

  // A paid single order with shipping, and an unpaid combined one.
  const single = await sandbox('/payments', { appid: app.appid, openid, mchid, out_trade_no: 'B-SINGLE', amount: 25600 });
  await wechat('/user-order/orders', token, {
    order_key: key('B-SINGLE'), payer: { openid }, upload_time: '2026-11-26T10:00:00+08:00',
    order_list: [{ merchant_order_no: 'MO-SINGLE', order_detail_jump_link: link,
      item_list: [item('咖啡豆 Coffee beans', 12800, 2, '<script>alert(1)</script>')] }],
  });
  await sandbox(`/payments/${single.transaction_id}/pay`);
  await wechat('/user-order/orders/shippings', token, {
    order_key: key('B-SINGLE'), delivery_mode: 1, upload_time: '2026-11-26T11:00:00+08:00',
    shipping_list: [{ tracking_no: 'SF0001', express_company: 'SF' }],
  });
  // Order shipping management: the same payment shipped by courier, so the payer can
  // confirm receipt on the bill.
  await wechat('/wxa/sec/order/upload_shipping_info', token, {
    order_key: { order_number_type: 2, transaction_id: single.transaction_id }, logistics_type: 1, delivery_mode: 1,
    shipping_list: [{ tracking_no: 'SF0001', express_company: 'SF', item_desc: '咖啡豆' }],
    upload_time: '2026-11-26T11:00:00+08:00', payer: { openid },
  });
  const combined = await sandbox('/payments', { appid: app.appid, openid, mchid, out_trade_no: 'B-COMB', amount: 3000,
    sub_orders: [{ mchid, out_trade_no: 'B-COMB-1', amount: 1000 }, { mchid, out_trade_no: 'B-COMB-2', amount: 2000 }] });
  await wechat('/user-order/combine-orders', token, {
    order_key: key('B-COMB'), payer: { openid }, upload_time: '2026-11-26T12:00:00+08:00',
    sub_orders: [
      { order_key: key('B-COMB-1'), merchant_order_no: 'MO-COMB-1', order_detail_jump_link: link, item_list: [item('茶杯 Cup', 1000, 1)] },
      { order_key: key('B-COMB-2'), merchant_order_no: 'MO-COMB-2', order_detail_jump_link: link, item_list: [item('茶叶 Tea', 2000, 1)] },
    ],
  });
  shop = { appid: app.appid, openid, combined: combined.transaction_id };
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'],
  });
});

after(async () => {
  await browser?.close();
  server?.kill();
});

test('a payer signs in, opens the bill and an order with its items, total and shipping', async () => {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
  await page.goto(`${base}/bill`);
  assert.match(page.url(), /\/bill\/login$/, 'the bill needs a sign-in');
  await page.fill('#appid', shop.appid);
  await page.fill('#openid', shop.openid);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/bill`);
  const list = await page.textContent('main');
  assert.match(list, /MO-SINGLE/);
  assert.doesNotMatch(list, /MO-COMB/, 'unpaid orders are not in the bill');
  await page.screenshot({ path: join(shots, 'bill-list.png'), fullPage: true });

  await page.click('a.order');
  await page.waitForURL(/\/bill\/order\?/);
  assert.equal(await page.textContent('[data-testid=total]'), '¥256.00');
  assert.equal(await page.textContent('[data-testid=item-name]'), '咖啡豆 Coffee beans');
  assert.equal(await page.textContent('[data-testid=tracking-no]'), 'SF0001');
  assert.match(await page.textContent('main'), /<script>alert\(1\)<\/script>/, 'the description is shown as text');
  await page.screenshot({ path: join(shots, 'bill-order.png'), fullPage: true });

  // Shipped (state 2): the payer's own Confirm receipt button moves it to state 3.
  assert.equal(await page.getAttribute('[data-testid=order-state]', 'data-state'), '2');
  await page.click('[data-testid=confirm-receipt]');
  await page.waitForSelector('[data-testid=order-state][data-state="3"]');
  assert.equal(await page.locator('[data-testid=confirm-receipt]').count(), 0, 'confirmed once');
  await page.screenshot({ path: join(shots, 'bill-confirmed.png'), fullPage: true });
  await page.close();
});

test('the admin pays a payment in the console and the upload turns ASSOCIATED', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`${base}/console`);
  assert.match(page.url(), /\/console\/login$/);
  await page.fill('#token', ADMIN);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/console`);
  const row = page.locator(`tr[data-transaction-id="${shop.combined}"]`);
  assert.equal((await row.locator('td.state').textContent()).trim(), 'NOTPAY');
  const upload = page.locator('tr.upload', { hasText: 'B-COMB' }).first();
  assert.equal((await upload.locator('td.verify').textContent()).trim(), 'NOT_PAID');
  await row.locator('button', { hasText: 'Pay' }).click();
  // The form posts and the console reloads: wait for the new page's row, not the old one's.
  await page.locator(`tr[data-transaction-id="${shop.combined}"] td.state`, { hasText: 'SUCCESS' }).waitFor();
  assert.equal((await page.locator('tr.upload', { hasText: 'B-COMB' }).first().locator('td.verify').textContent()).trim(), 'ASSOCIATED');
  await page.screenshot({ path: join(shots, 'console.png'), fullPage: true });

  // The payer's bill now lists the combined order, grouped under its payment.
  await page.goto(`${base}/bill?appid=${shop.appid}&openid=${shop.openid}`);
  await page.click('a.order >> text=MO-COMB-1');
  const detail = await page.textContent('main');
  assert.match(detail, /Combined payment of 2 orders/);
  assert.equal(await page.textContent('[data-testid=total]'), '¥30.00');
  await page.screenshot({ path: join(shots, 'bill-combined.png'), fullPage: true });
  await page.close();
});
