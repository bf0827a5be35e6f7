"""An OAuth 2.0 authorization server for tests/sipe_oauth.rs, built on Authlib's own
RFC 8628 device authorization endpoint and device code grant and its RFC 6749 refresh
token grant (Debian python3-authlib): an implementation independent of ours.

HTTPS on 127.0.0.1 (the certificate and key given on the command line); prints the port
on stdout. Endpoints: POST /device_authorization, POST /token (Authlib), and for the
test: POST /control (form: clock=<seconds> sets the virtual clock; approve=<user_code>
&user=<name> or deny=<user_code> is the user at the browser), GET /validate?token=...
(200 with the user's name while the bearer token is valid, else 401). Time is virtual:
code expiry, slow_down and token expiry follow the clock the test sets. Stops when stdin
closes.
"""

import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qsl, urlparse

from authlib.oauth2 import AuthorizationServer, OAuth2Request
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc8628 import (
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant,
    DeviceCredentialDict,
)

CLIENT_ID = "d3590ed6-52b3-4102-aeff-aad2292ab01c"
LOCK = threading.Lock()
STATE = {
    "clock": 0,
    "devices": {},   # device_code -> dict
    "grants": {},    # user_code -> (user, approved)
    "last_poll": {}, # device_code -> clock of the last poll
    "tokens": {},    # access_token -> (user, expires_at)
    "refresh": {},   # refresh_token -> (user, scope)
}


class Client(ClientMixin):
    def get_client_id(self):
        return CLIENT_ID

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        return scope

    def check_redirect_uri(self, redirect_uri):
        return False

    def check_client_secret(self, client_secret):
        return False

    def check_endpoint_auth_method(self, method, endpoint):
        # A public client: no secret (RFC 6749 2.1, 3.2.1).
        return method == "none"

    def check_response_type(self, response_type):
        return False

    def check_grant_type(self, grant_type):
        return grant_type in (DeviceCodeGrant.GRANT_TYPE, "refresh_token")


class Credential(DeviceCredentialDict):
    def is_expired(self):
        return STATE["clock"] >= self["expires_at"]


class Refresh:
    def __init__(self, token, user, scope):
        self.token, self.user, self.scope = token, user, scope

    def check_client(self, client):
        return client.get_client_id() == CLIENT_ID

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return 3600


class Server(AuthorizationServer):
    def query_client(self, client_id):
        return Client() if client_id == CLIENT_ID else None

    def save_token(self, token, request):
        user = request.user
        STATE["tokens"][token["access_token"]] = (user, STATE["clock"] + token["expires_in"])
        if "refresh_token" in token:
            STATE["refresh"][token["refresh_token"]] = (user, token.get("scope"))

    def send_signal(self, name, *args, **kwargs):
        pass

    def create_oauth2_request(self, request):
        if isinstance(request, OAuth2Request):
            return request
        method, uri, body, headers = request
        return OAuth2Request(method, uri, dict(parse_qsl(body)), headers)

    def create_json_request(self, request):
        raise NotImplementedError

    def handle_response(self, status, body, headers):
        return status, body, headers


class Endpoint(DeviceAuthorizationEndpoint):
    EXPIRES_IN = 900
    INTERVAL = 5

    def get_verification_uri(self):
        return "https://microsoft.com/devicelogin"

    def save_device_credential(self, client_id, scope, data):
        d = dict(data, client_id=client_id, scope=scope,
                 expires_at=STATE["clock"] + data["expires_in"])
        STATE["devices"][data["device_code"]] = d


class DeviceGrant(DeviceCodeGrant):
    def query_device_credential(self, device_code):
        d = STATE["devices"].get(device_code)
        return Credential(d) if d else None

    def query_user_grant(self, user_code):
        return STATE["grants"].get(user_code)

    def should_slow_down(self, credential):
        # RFC 8628 3.5: polled again before `interval` passed.
        code = credential["device_code"]
        last = STATE["last_poll"].get(code)
        STATE["last_poll"][code] = STATE["clock"]
        return last is not None and STATE["clock"] - last < Endpoint.INTERVAL


class RefreshGrant(grants.RefreshTokenGrant):
    INCLUDE_NEW_REFRESH_TOKEN = True
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]

    def authenticate_refresh_token(self, refresh_token):
        r = STATE["refresh"].get(refresh_token)
        return Refresh(refresh_token, r[0], r[1]) if r else None

    def authenticate_user(self, credential):
        return credential.user

    def revoke_old_credential(self, credential):
        STATE["refresh"].pop(credential.token, None)


SERVER = Server()
SERVER.register_token_generator(
    "default",
    BearerTokenGenerator(
        access_token_generator=lambda **kw: "at-" + __import__("secrets").token_hex(16),
        refresh_token_generator=lambda **kw: "rt-" + __import__("secrets").token_hex(16),
        expires_generator=3600,
    ),
)
SERVER.register_endpoint(Endpoint)
SERVER.register_grant(DeviceGrant)
SERVER.register_grant(RefreshGrant)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, headers):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        for k, v in headers:
            if k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        u = urlparse(self.path)
        if u.path != "/validate":
            return self.reply(404, b"", [])
        token = dict(parse_qsl(u.query)).get("token", "")
        with LOCK:
            t = STATE["tokens"].get(token)
            ok = t is not None and STATE["clock"] < t[1]
        if ok:
            self.reply(200, t[0].encode(), [("Content-Type", "text/plain")])
        else:
            self.reply(401, b"", [("WWW-Authenticate", 'Bearer error="invalid_token"')])

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode()
        uri = "https://127.0.0.1" + self.path
        headers = {k: v for k, v in self.headers.items()}
        with LOCK:
            if self.path == "/device_authorization":
                r = SERVER.create_endpoint_response(
                    "device_authorization", ("POST", uri, body, headers))
            elif self.path == "/token":
                r = SERVER.create_token_response(("POST", uri, body, headers))
            elif self.path == "/control":
                f = dict(parse_qsl(body))
                if "clock" in f:
                    STATE["clock"] = int(f["clock"])
                if "approve" in f:
                    STATE["grants"][f["approve"]] = (f.get("user", ""), True)
                if "deny" in f:
                    STATE["grants"][f["deny"]] = ("", False)
                r = (200, b"", [])
            else:
                r = (404, b"", [])
        self.reply(*r)


def main():
    cert, key = sys.argv[1], sys.argv[2]
    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    print(httpd.server_address[1], flush=True)
    sys.stdin.read()
    httpd.shutdown()


if __name__ == "__main__":
    main()
