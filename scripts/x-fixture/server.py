#!/usr/bin/env python3
"""A stand-in for the X API v2 endpoints Passerelle's X connector calls, for its tests.

No X server can be installed, so this one checks what matters about a request: its OAuth 1.0a
signature, verified with oauthlib's implementation of RFC 5849 (not code of ours), and the shape
of its v2 body. It keeps one account's posts and media in memory and gives texts back the way X
does (links as t.co links, `&<>` as HTML entities, a t.co link appended for media).

Endpoints: GET /2/users/me, GET /2/users/:id/tweets, POST /2/tweets, DELETE /2/tweets/:id,
POST /2/media/upload (multipart), POST /2/media/metadata. Fixture-only, unsigned:
GET /_fixture/health, GET /_fixture/tweets (every post with what was sent),
POST /_fixture/faults with {"kind": "rate_limit" | "unavailable" | "drop_after_create",
"count": N, "method": "POST", "path": "/2/tweets", "body_contains": "...", "reset_in": 60}:
the next N matching signed calls answer 429 (with x-rate-limit-* headers), 503, or make the post
and close the connection without answering. POST /_fixture/lag with {"text_contains": "...",
"hidden": true | false}: while hidden, timelines leave out the posts whose text contains it, as
X's reads lag behind its writes.
"""

import argparse
import json
import os
import re
import secrets
import socket
import string
import sys
import threading
import time
from datetime import datetime, timezone
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

from oauthlib.oauth1.rfc5849 import signature, utils

USER_ID = "1700000000000000001"
USERNAME = "passerelle_test"
# How old a request's oauth_timestamp may be, as X allows.
TIMESTAMP_WINDOW = 300
# A link as X finds it: trailing punctuation is the sentence's, not the link's.
URL = re.compile(r"https?://\S+?(?=[.,;:!?'\")\]]*(?:\s|$))")
TWEET_KEYS = {"text", "reply", "media"}
REPLY_KEYS = {"in_reply_to_tweet_id", "exclude_reply_user_ids"}
MEDIA_KEYS = {"media_ids", "tagged_user_ids"}
MEDIA_CATEGORIES = {"tweet_image", "tweet_gif", "tweet_video", "dm_image", "dm_gif", "dm_video", "subtitles"}


class Drop(Exception):
    """The connection is closed without an answer."""


class State:
    def __init__(self, keys):
        self.keys = keys
        self.lock = threading.Lock()
        self.tweets = {}  # id -> dict
        self.media = {}  # id -> dict
        self.nonces = {}  # nonce -> timestamp
        self.faults = []
        self.lagging = set()  # texts whose posts timelines leave out
        self.next_id = int(time.time() * 1000) << 22  # snowflake-like, increasing

    def new_id(self):
        self.next_id += 1 + secrets.randbelow(1000)
        return str(self.next_id)


def problem(status, title, detail, kind="about:blank", errors=None):
    body = {"title": title, "detail": detail, "type": kind, "status": status}
    if errors:
        body["errors"] = errors
    return status, body


def invalid(message, parameter):
    return problem(
        400,
        "Invalid Request",
        "One or more parameters to your request was invalid.",
        "https://api.twitter.com/2/problems/invalid-request",
        [{"parameters": {parameter: []}, "message": message}],
    )


UNAUTHORIZED = problem(401, "Unauthorized", "Unauthorized")


def t_co():
    return "https://t.co/" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(10))


def shown(text, with_media):
    """The text as X gives it back."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = URL.sub(lambda _: t_co(), text)
    if with_media:
        text += " " + t_co()
    return text


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm on, each answer waited for
    # the client's delayed ACK (about 45 ms a call, measured).
    disable_nagle_algorithm = True
    server_version = "x-fixture"
    state = None  # set by main

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (datetime.now().isoformat(timespec="milliseconds"), fmt % args))

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def dispatch(self, method):
        url = urlsplit(self.path)
        body = self.read_body()
        try:
            if url.path.startswith("/_fixture/"):
                status, answer, headers = *self.fixture(method, url.path, body), {}
            else:
                status, answer, headers = self.api(method, url, body)
        except Drop:
            self.log_message("%s %s: made, connection dropped without an answer", method, url.path)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    # --- fixture control ---

    def fixture(self, method, path, body):
        state = self.state
        if method == "GET" and path == "/_fixture/health":
            return 200, {"ok": True}
        if method == "GET" and path == "/_fixture/tweets":
            with state.lock:
                tweets = [
                    {
                        "id": t["id"],
                        "text": t["text"],
                        "shown": t["shown"],
                        "created_at": iso(t["created_at"]),
                        "reply_to": t["reply_to"],
                        "media": [{"id": m, "alt_text": state.media[m]["alt_text"], "size": state.media[m]["size"]} for m in t["media_ids"]],
                        "deleted": t["deleted"],
                    }
                    for t in state.tweets.values()
                ]
            return 200, {"tweets": tweets}
        if method == "POST" and path == "/_fixture/faults":
            fault = json.loads(body)
            if fault.get("kind") not in {"rate_limit", "unavailable", "drop_after_create"}:
                return 400, {"error": "kind must be rate_limit, unavailable or drop_after_create"}
            fault.setdefault("count", 1)
            with state.lock:
                state.faults.append(fault)
            return 200, {"faults": len(state.faults)}
        if method == "POST" and path == "/_fixture/lag":
            lag = json.loads(body)
            with state.lock:
                if lag["hidden"]:
                    state.lagging.add(lag["text_contains"])
                else:
                    state.lagging.discard(lag["text_contains"])
            return 200, {"lagging": len(state.lagging)}
        return 404, {"error": f"no fixture endpoint {method} {path}"}

    # --- the API ---

    def authenticate(self, method, url, body):
        """Why the request's OAuth 1.0a signature is not good, or None."""
        keys = self.state.keys
        header = self.headers.get("Authorization", "")
        if not header.lower().startswith("oauth "):
            return "no OAuth Authorization header"
        try:
            oauth = {k: utils.unescape(v) for k, v in utils.parse_authorization_header(header)}
        except ValueError:
            return "malformed Authorization header"
        if oauth.get("oauth_consumer_key") != keys.consumer_key:
            return "unknown consumer key"
        if oauth.get("oauth_token") != keys.access_token:
            return "unknown access token"
        if oauth.get("oauth_signature_method") != "HMAC-SHA1":
            return "signature method is not HMAC-SHA1"
        if oauth.get("oauth_version", "1.0") != "1.0":
            return "oauth_version is not 1.0"
        try:
            stamp = int(oauth.get("oauth_timestamp", ""))
        except ValueError:
            return "no oauth_timestamp"
        if abs(time.time() - stamp) > TIMESTAMP_WINDOW:
            return "oauth_timestamp too far from now"
        nonce = oauth.get("oauth_nonce")
        if not nonce or "oauth_signature" not in oauth:
            return "no oauth_nonce or oauth_signature"
        # RFC 5849 §3.4.1.3.1: a body counts only when it is form-urlencoded.
        form = None
        if self.headers.get("Content-Type", "").split(";")[0].strip() == "application/x-www-form-urlencoded":
            form = body.decode("utf-8")
        params = signature.collect_parameters(
            uri_query=url.query, body=form, headers={"Authorization": header}, exclude_oauth_signature=True
        )
        request = SimpleNamespace(
            params=params,
            uri=f"http://{self.headers['Host']}{url.path}",
            http_method=method,
            signature=oauth["oauth_signature"],
        )
        if not signature.verify_hmac_sha1(request, keys.consumer_secret, keys.access_secret):
            return "signature does not match"
        with self.state.lock:
            now = time.time()
            for old in [n for n, t in self.state.nonces.items() if now - t > 2 * TIMESTAMP_WINDOW]:
                del self.state.nonces[old]
            if nonce in self.state.nonces:
                return "oauth_nonce used before"
            self.state.nonces[nonce] = now
        return None

    def fault(self, method, path, body):
        with self.state.lock:
            for fault in self.state.faults:
                if fault["count"] <= 0:
                    continue
                if fault.get("method", method) != method or fault.get("path", path) != path:
                    continue
                if fault.get("body_contains", "") not in body.decode("utf-8", "replace"):
                    continue
                fault["count"] -= 1
                return fault
        return None

    def api(self, method, url, body):
        why = self.authenticate(method, url, body)
        if why:
            self.log_message("%s %s refused: %s", method, url.path, why)
            return (*UNAUTHORIZED, {})
        fault = self.fault(method, url.path, body)
        if fault and fault["kind"] == "rate_limit":
            reset = int(time.time()) + int(fault.get("reset_in", 60))
            headers = {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)}
            return (*problem(429, "Too Many Requests", "Too Many Requests"), headers)
        if fault and fault["kind"] == "unavailable":
            return (*problem(503, "Service Unavailable", "Service Unavailable"), {})
        drop = bool(fault and fault["kind"] == "drop_after_create")
        path = url.path
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        if method == "GET" and path == "/2/users/me":
            return 200, {"data": {"id": USER_ID, "name": "Passerelle Test", "username": USERNAME}}, {}
        match = re.fullmatch(r"/2/users/(\d+)/tweets", path)
        if method == "GET" and match:
            return (*self.timeline(match.group(1), query), {})
        if method == "POST" and path == "/2/tweets":
            status, answer = self.create(body)
            if drop and status == 201:
                raise Drop()
            return status, answer, {}
        match = re.fullmatch(r"/2/tweets/(\d+)", path)
        if method == "DELETE" and match:
            return (*self.delete(match.group(1)), {})
        if method == "POST" and path == "/2/media/upload":
            return (*self.upload(body), {})
        if method == "POST" and path == "/2/media/metadata":
            return (*self.metadata(body), {})
        return (*problem(404, "Not Found Error", f"no endpoint {method} {path}"), {})

    def json_body(self, body):
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            return None
        try:
            value = json.loads(body)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def create(self, body):
        request = self.json_body(body)
        if request is None:
            return invalid("the body must be a JSON object (Content-Type application/json)", "body")
        for key in request.keys() - TWEET_KEYS:
            return invalid(f"$.{key}: is not defined in the schema and the schema does not allow additional properties", key)
        text = request.get("text")
        if text is not None and not isinstance(text, str):
            return invalid("$.text: string expected", "text")
        reply_to = None
        if "reply" in request:
            reply = request["reply"]
            if not isinstance(reply, dict) or reply.keys() - REPLY_KEYS or not isinstance(reply.get("in_reply_to_tweet_id"), str):
                return invalid("$.reply: in_reply_to_tweet_id (a string) expected", "reply")
            reply_to = reply["in_reply_to_tweet_id"]
        media_ids = []
        if "media" in request:
            media = request["media"]
            if not isinstance(media, dict) or media.keys() - MEDIA_KEYS or not isinstance(media.get("media_ids"), list):
                return invalid("$.media: media_ids (a list) expected", "media")
            media_ids = media["media_ids"]
            if not 1 <= len(media_ids) <= 4 or not all(isinstance(m, str) for m in media_ids):
                return invalid("$.media.media_ids: 1 to 4 strings expected", "media.media_ids")
        if not text and not media_ids:
            return invalid("$.text: text or media is required", "text")
        state = self.state
        with state.lock:
            if reply_to is not None:
                target = state.tweets.get(reply_to)
                if target is None or target["deleted"]:
                    return problem(403, "Forbidden", "You attempted to reply to a Tweet that is deleted or not visible to you.")
            if any(m not in state.media for m in media_ids):
                return invalid("Your media IDs are invalid.", "media.media_ids")
            if text and any(t["text"] == text and not t["deleted"] for t in state.tweets.values()):
                return problem(403, "Forbidden", "You are not allowed to create a Tweet with duplicate content.")
            tweet = {
                "id": state.new_id(),
                "text": text or "",
                "shown": shown(text or "", bool(media_ids)),
                "created_at": datetime.now(timezone.utc),
                "reply_to": reply_to,
                "media_ids": media_ids,
                "deleted": False,
            }
            state.tweets[tweet["id"]] = tweet
        return 201, {"data": {"id": tweet["id"], "text": tweet["shown"], "edit_history_tweet_ids": [tweet["id"]]}}

    def delete(self, tweet_id):
        with self.state.lock:
            tweet = self.state.tweets.get(tweet_id)
            if tweet is None or tweet["deleted"]:
                return problem(
                    404,
                    "Not Found Error",
                    f"Could not find tweet with id: [{tweet_id}].",
                    "https://api.twitter.com/2/problems/resource-not-found",
                )
            tweet["deleted"] = True
        return 200, {"data": {"deleted": True}}

    def timeline(self, user_id, query):
        fields = set(filter(None, query.get("tweet.fields", "").split(",")))
        try:
            max_results = int(query.get("max_results", "10"))
            offset = int(query.get("pagination_token", "0"))
            start = query.get("start_time")
            start = datetime.strptime(start, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc) if start else None
        except ValueError as e:
            return invalid(f"bad parameter: {e}", "query")
        if not 5 <= max_results <= 100:
            return invalid("The `max_results` query parameter value is not between 5 and 100", "max_results")
        if user_id != USER_ID:
            return 200, {"meta": {"result_count": 0}}
        with self.state.lock:
            tweets = [
                t
                for t in self.state.tweets.values()
                if not t["deleted"]
                and (start is None or t["created_at"] >= start)
                and not any(h in t["text"] for h in self.state.lagging)
            ]
        tweets.sort(key=lambda t: int(t["id"]), reverse=True)
        page = tweets[offset : offset + max_results]
        data = []
        for t in page:
            item = {"id": t["id"], "text": t["shown"], "edit_history_tweet_ids": [t["id"]]}
            if "created_at" in fields:
                item["created_at"] = iso(t["created_at"])
            if "referenced_tweets" in fields and t["reply_to"]:
                item["referenced_tweets"] = [{"type": "replied_to", "id": t["reply_to"]}]
            data.append(item)
        meta = {"result_count": len(data)}
        if data:
            meta["newest_id"], meta["oldest_id"] = data[0]["id"], data[-1]["id"]
        if offset + max_results < len(tweets):
            meta["next_token"] = str(offset + max_results)
        answer = {"meta": meta}
        if data:
            answer["data"] = data
        return 200, answer

    def upload(self, body):
        content_type = self.headers.get("Content-Type", "")
        if not content_type.startswith("multipart/form-data"):
            return invalid("media upload expects multipart/form-data", "media")
        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        fields = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            fields[name] = (part.get_content_type(), part.get_payload(decode=True))
        if "media" not in fields or not fields["media"][1]:
            return invalid("$.media: the file is required", "media")
        category = (fields.get("media_category") or (None, b""))[1].decode()
        if category not in MEDIA_CATEGORIES:
            return invalid(f"$.media_category: one of {sorted(MEDIA_CATEGORIES)} expected", "media_category")
        media_type = (fields.get("media_type") or (None, fields["media"][0].encode()))[1].decode()
        with self.state.lock:
            media_id = self.state.new_id()
            self.state.media[media_id] = {"size": len(fields["media"][1]), "type": media_type, "alt_text": None}
        return 200, {
            "data": {
                "id": media_id,
                "media_key": f"3_{media_id}",
                "size": len(fields["media"][1]),
                "expires_after_secs": 86400,
                "image": {"image_type": media_type},
            }
        }

    def metadata(self, body):
        request = self.json_body(body)
        if request is None or not isinstance(request.get("id"), str) or not isinstance(request.get("metadata"), dict):
            return invalid("id (a string) and metadata (an object) expected", "body")
        alt = request["metadata"].get("alt_text")
        if not isinstance(alt, dict) or not isinstance(alt.get("text"), str):
            return invalid("$.metadata.alt_text.text: string expected", "metadata.alt_text")
        if len(alt["text"]) > 1000:
            return invalid("$.metadata.alt_text.text: at most 1000 characters", "metadata.alt_text")
        with self.state.lock:
            media = self.state.media.get(request["id"])
            if media is None:
                return problem(404, "Not Found Error", f"Could not find media with id: [{request['id']}].")
            media["alt_text"] = alt["text"]
        return 200, {"data": {"id": request["id"], "associated_metadata": {"alt_text": {"text": alt["text"]}}}}


def main():
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3100)
    parser.add_argument("--consumer-key", default=env("X_FIXTURE_CONSUMER_KEY", "passerelle-test-consumer"))
    parser.add_argument("--consumer-secret", default=env("X_FIXTURE_CONSUMER_SECRET", "consumer+secret/with=odd&chars"))
    parser.add_argument("--access-token", default=env("X_FIXTURE_ACCESS_TOKEN", f"{USER_ID}-passerelleTestToken"))
    parser.add_argument("--access-secret", default=env("X_FIXTURE_ACCESS_SECRET", "access secret~with spaces"))
    keys = parser.parse_args()
    Handler.state = State(keys)
    server = ThreadingHTTPServer((keys.host, keys.port), Handler)
    server.daemon_threads = True
    sys.stderr.write(f"x-fixture listening on http://{keys.host}:{keys.port} as @{USERNAME}\n")
    sys.stderr.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
