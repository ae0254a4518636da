"""A merchant's WeChat Pay v3 flow with wechatpayv3 (PyPI), unmodified, against userorder.

The merchant's side is exactly what a merchant writes: wechatpayv3's WeChatPay pointed at
the server, and a notify_url handler that hands the request to WeChatPay.callback, which
verifies the signature and decrypts the resource. The payer's side is the sandbox's
/sandbox/request-payment, signed with WeChatPay.sign as the merchant's mini program gets it.
"""

import json
import os
import queue
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from wechatpayv3 import WeChatPay, WeChatPayType

BASE = os.environ["USERORDER_BASE"]
ADMIN = os.environ["USERORDER_ADMIN_TOKEN"]


def sandbox(method, path, body=None):
    request = urllib.request.Request(
        f"{BASE}/sandbox{path}",
        method=method,
        data=json.dumps(body or {}).encode(),
        headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print(f"ok - {what}")


# A merchant of an app, with a generated API key; the platform signs with its public key.
appid = sandbox("POST", "/apps")["appid"]
mchid = sandbox("POST", "/merchants", {"appids": [appid]})["mchid"]
openid = sandbox("POST", f"/apps/{appid}/openids")["openid"]
credentials = sandbox(
    "PUT", f"/merchants/{mchid}/apiv3", {"generate_merchant_key": True, "refund_min_interval_s": 0}
)
generated = credentials["generated"]

# The notify_url: the merchant's handler, as wechatpayv3's README writes it.
notifications = queue.Queue()


class Notify(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        result = wxpay.callback(self.headers, body)
        notifications.put(result)
        self.send_response(200 if result else 400)
        self.end_headers()

    def log_message(self, *args):
        pass


receiver = ThreadingHTTPServer(("127.0.0.1", 0), Notify)
threading.Thread(target=receiver.serve_forever, daemon=True).start()
notify_url = f"http://127.0.0.1:{receiver.server_address[1]}/pay/notify"


def client(private_key):
    pay = WeChatPay(
        wechatpay_type=WeChatPayType.MINIPROG,
        mchid=mchid,
        private_key=private_key,
        cert_serial_no=generated["serial_no"],
        appid=appid,
        apiv3_key=credentials["apiv3_key"],
        notify_url=notify_url,
        public_key=credentials["platform_public_key"]["pem"],
        public_key_id=credentials["platform_public_key"]["id"],
    )
    # wechatpayv3 has no setting for its host; this is where it keeps it.
    pay._core._gate_way = BASE
    return pay


wxpay = client(generated["private_key_pem"])


def next_notification():
    try:
        return notifications.get(timeout=10)
    except queue.Empty:
        sys.exit("no notification arrived within 10 s")


out_trade_no = f"PY{int(time.time())}"
code, text = wxpay.pay(
    description="Tea 250g",
    out_trade_no=out_trade_no,
    amount={"total": 300},
    payer={"openid": openid},
)
check(code == 200, f"prepay answers 200 ({code} {text})")
prepay_id = json.loads(text)["prepay_id"]

time_stamp, nonce = str(int(time.time())), "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
package = f"prepay_id={prepay_id}"
pay_sign = wxpay.sign([appid, time_stamp, nonce, package])
paid = sandbox(
    "POST",
    "/request-payment",
    {"appId": appid, "timeStamp": time_stamp, "nonceStr": nonce, "package": package,
     "signType": "RSA", "paySign": pay_sign},
)
check(paid["errMsg"] == "requestPayment:ok", f"the payer pays ({paid})")

notified = next_notification()
check(notified is not None, "callback verifies and decrypts the notification")
check(notified["event_type"] == "TRANSACTION.SUCCESS", "the notification is TRANSACTION.SUCCESS")
check(notified["resource"]["trade_state"] == "SUCCESS", "its transaction is SUCCESS")
check(notified["resource"]["out_trade_no"] == out_trade_no, "its transaction is this order")

code, text = wxpay.query(out_trade_no=out_trade_no)
check(code == 200 and json.loads(text)["trade_state"] == "SUCCESS", f"query shows SUCCESS ({text})")
transaction_id = json.loads(text)["transaction_id"]
code, text = wxpay.query(transaction_id=transaction_id)
check(code == 200 and json.loads(text)["out_trade_no"] == out_trade_no, "query by transaction_id")

code, text = wxpay.refund(
    out_refund_no=f"R{out_trade_no}",
    amount={"refund": 300, "total": 300, "currency": "CNY"},
    transaction_id=transaction_id,
    notify_url=notify_url,
)
check(code == 200 and json.loads(text)["status"] == "PROCESSING", f"refund accepted ({text})")
refunded = next_notification()
check(refunded["event_type"] == "REFUND.SUCCESS", "the refund's notification verifies and decrypts")
check(refunded["resource"]["refund_status"] == "SUCCESS", "its refund is SUCCESS")
code, text = wxpay.query_refund(out_refund_no=f"R{out_trade_no}")
check(code == 200 and json.loads(text)["status"] == "SUCCESS", f"refund query shows SUCCESS ({text})")
code, text = wxpay.query(out_trade_no=out_trade_no)
check(json.loads(text)["trade_state"] == "REFUND", "the payment shows REFUND")

# The same client signing with a key the server does not know: 401 SIGN_ERROR.
stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
code, text = client(stranger).query(out_trade_no=out_trade_no)
check(code == 401 and json.loads(text)["code"] == "SIGN_ERROR", f"a wrong signature: 401 ({text})")

receiver.shutdown()
print("wechatpayv3: all checks passed")
