// A merchant's WeChat Pay v3 flow with wechatpay-axios-plugin (npm), unmodified, against
// userorder: the client takes the server as its axios baseURL; the notify_url handler verifies
// the notification with the plugin's Rsa and Formatter and decrypts it with its Aes, as the
// plugin's guide writes a callback handler.
import { createServer } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import assert from 'node:assert/strict';
import { Wechatpay, Rsa, Aes, Formatter } from 'wechatpay-axios-plugin';

const BASE = process.env.USERORDER_BASE;
const ADMIN = process.env.USERORDER_ADMIN_TOKEN;

async function sandbox(method, path, body = {}) {
  const response = await fetch(`${BASE}/sandbox${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${await response.clone().text()}`);
  return response.json();
}

function ok(what) { console.log(`ok - ${what}`); }

const { appid } = await sandbox('POST', '/apps');
const { mchid } = await sandbox('POST', '/merchants', { appids: [appid] });
const { openid } = await sandbox('POST', `/apps/${appid}/openids`);
const credentials = await sandbox('PUT', `/merchants/${mchid}/apiv3`, {
  generate_merchant_key: true, refund_min_interval_s: 0,
});
const { generated } = credentials;
const platform = credentials.platform_public_key;
const platformKey = Rsa.from(platform.pem, Rsa.KEY_TYPE_PUBLIC);

// The notify_url: verify, decrypt, answer 204.
const notifications = [];
const waiting = [];
const receiver = createServer((request, response) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    const h = request.headers;
    const verified = Rsa.verify(
      Formatter.response(h['wechatpay-timestamp'], h['wechatpay-nonce'], body),
      h['wechatpay-signature'],
      platformKey,
    ) && h['wechatpay-serial'] === platform.id;
    if (!verified) { response.writeHead(401).end(); return; }
    const notification = JSON.parse(body);
    const { ciphertext, nonce, associated_data: aad } = notification.resource;
    notification.resource = JSON.parse(
      Aes.AesGcm.decrypt(ciphertext, credentials.apiv3_key, nonce, aad),
    );
    notifications.push(notification);
    waiting.splice(0).forEach((wake) => wake());
    response.writeHead(204).end();
  });
});
await new Promise((resolve) => { receiver.listen(0, '127.0.0.1', resolve); });
const notifyUrl = `http://127.0.0.1:${receiver.address().port}/pay/notify`;

async function nextNotification(n) {
  const deadline = Date.now() + 10_000;
  while (notifications.length < n) {
    assert.ok(Date.now() < deadline, `notification ${n} did not arrive within 10 s`);
    await new Promise((resolve) => { waiting.push(resolve); setTimeout(resolve, 200); });
  }
  return notifications[n - 1];
}

const client = (privateKey) => new Wechatpay({
  mchid,
  serial: generated.serial_no,
  privateKey,
  certs: { [platform.id]: platform.pem },
  baseURL: BASE,
});
const wxpay = client(generated.private_key_pem);

const outTradeNo = `JS${Date.now()}`;
const { data: { prepay_id: prepayId } } = await wxpay.v3.pay.transactions.jsapi.post({
  appid, mchid, description: 'Tea 250g', out_trade_no: outTradeNo, notify_url: notifyUrl,
  amount: { total: 300, currency: 'CNY' }, payer: { openid },
});
assert.match(prepayId, /^wx\d{14}[0-9a-f]{20}$/);
ok('prepay answers a verified prepay_id');

const timeStamp = `${Math.floor(Date.now() / 1000)}`;
const nonceStr = 'GyVNpXNDqmYvLsHn8RzuPJXj4LgwMhxH';
const pkg = `prepay_id=${prepayId}`;
const paySign = Rsa.sign(Formatter.joinedByLineFeed(appid, timeStamp, nonceStr, pkg),
  Rsa.from(generated.private_key_pem));
const paid = await sandbox('POST', '/request-payment', {
  appId: appid, timeStamp, nonceStr, package: pkg, signType: 'RSA', paySign,
});
assert.equal(paid.errMsg, 'requestPayment:ok');
ok('the payer pays');

const notified = await nextNotification(1);
assert.equal(notified.event_type, 'TRANSACTION.SUCCESS');
assert.equal(notified.resource.trade_state, 'SUCCESS');
assert.equal(notified.resource.out_trade_no, outTradeNo);
ok('the notification verifies and decrypts: TRANSACTION.SUCCESS');

const { data: queried } = await wxpay.v3.pay.transactions.outTradeNo._out_trade_no_.get({
  params: { mchid }, out_trade_no: outTradeNo,
});
assert.equal(queried.trade_state, 'SUCCESS');
ok('query shows SUCCESS');
const { data: byId } = await wxpay.v3.pay.transactions.id._transaction_id_.get({
  params: { mchid }, transaction_id: queried.transaction_id,
});
assert.equal(byId.out_trade_no, outTradeNo);
ok('query by transaction_id');

const { data: refund } = await wxpay.v3.refund.domestic.refunds.post({
  out_trade_no: outTradeNo, out_refund_no: `R${outTradeNo}`, notify_url: notifyUrl,
  amount: { refund: 100, total: 300, currency: 'CNY' },
});
assert.equal(refund.status, 'PROCESSING');
ok('refund accepted');
const refunded = await nextNotification(2);
assert.equal(refunded.event_type, 'REFUND.SUCCESS');
assert.equal(refunded.resource.refund_status, 'SUCCESS');
ok('the refund notification verifies and decrypts: REFUND.SUCCESS');
const { data: refundQuery } = await wxpay.v3.refund.domestic.refunds._out_refund_no_.get({
  out_refund_no: `R${outTradeNo}`,
});
assert.equal(refundQuery.status, 'SUCCESS');
ok('refund query shows SUCCESS');

const closed = await wxpay.v3.pay.transactions.outTradeNo._out_trade_no_.close.post(
  { mchid }, { out_trade_no: outTradeNo },
).catch((error) => error.response);
assert.equal(closed.status, 400);
assert.equal(closed.data.code, 'ORDERPAID');
ok('closing a paid order answers 400 ORDERPAID');

const { privateKey: stranger } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});
const refused = await client(stranger).v3.pay.transactions.outTradeNo._out_trade_no_.get({
  params: { mchid }, out_trade_no: outTradeNo,
}).catch((error) => error.response);
assert.equal(refused.status, 401);
assert.equal(refused.data.code, 'SIGN_ERROR');
ok('a wrong signature answers 401 SIGN_ERROR');

receiver.close();
console.log('wechatpay-axios-plugin: all checks passed');
