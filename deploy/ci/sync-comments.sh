#!/usr/bin/env bash
# sync-comments.sh: keep ONE meshcd report per pull request (or merge request) up to date.
#
#   sync-comments.sh [--gitlab] [--author LOGIN] [--dry-run] DIR COMMENTS_URL
#
# DIR is the folder `meshcd report --output-dir DIR` wrote (comment-1.md ... comment-N.md, each
# ending with the hidden marker `<!-- meshcd-report: part i of N -->`). COMMENTS_URL is the
# comments endpoint of the pull request:
#
#   GitHub  https://api.github.com/repos/OWNER/REPO/issues/NUMBER/comments
#           (in Actions: ${{ github.event.pull_request.comments_url }}); token from
#           GITHUB_TOKEN (or GH_TOKEN), sent as `Authorization: Bearer`.
#   GitLab  (--gitlab) https://gitlab.example.com/api/v4/projects/ID/merge_requests/IID/notes
#           (in CI: $CI_API_V4_URL/projects/$CI_PROJECT_ID/merge_requests/$CI_MERGE_REQUEST_IID/notes);
#           token from GITLAB_TOKEN, sent as `PRIVATE-TOKEN`.
#
# It lists every comment (following pagination), finds the previous report's parts by the marker
# on their last line (only comments by LOGIN with --author), and then:
#   - updates part i in place when its text changed (PATCH on GitHub, PUT on GitLab), leaves it
#     alone when not;
#   - creates the parts that do not exist yet, in order;
#   - deletes surplus parts (the previous report had more) and duplicates of a part.
# When the existing parts are not parts 1..k in order (someone deleted part 1, say), they are all
# replaced so that the report reads in order. Other comments are never touched. It prints one
# line per part; --dry-run prints what it would do without writing.
#
# Needs bash and python3 (standard library only). Exit 0: in sync; 1: the API refused or was
# unreachable; 2: bad arguments or report folder.
set -euo pipefail

if ! command -v python3 >/dev/null 2>&1; then
    echo "sync-comments.sh: python3 is required" >&2
    exit 2
fi

exec python3 - "$@" <<'PYTHON'
import argparse
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

# The marker `meshcd report` ends every comment with (agent/src/render/markdown/split.rs).
MARKER = re.compile(r"(?:\A|\n)<!-- meshcd-report: part (\d+) of (\d+) -->\s*\Z")
PART_FILE = re.compile(r"comment-(\d+)\.md\Z")
MAX_PAGES = 1000
RETRIES = 3


def fail(message, code=1):
    print(f"sync-comments: {message}", file=sys.stderr)
    sys.exit(code)


def normalized(text):
    """Bodies as compared: hosts may hand back CRLF line ends."""
    return (text or "").replace("\r\n", "\n")


def origin(url):
    parts = urllib.parse.urlsplit(url)
    return (parts.scheme.lower(), parts.netloc.lower())


def read_parts(folder):
    """The report's comments, part 1 first; each must end with its own marker."""
    path = Path(folder)
    if not path.is_dir():
        fail(f"{folder} is not a folder (run `meshcd report --output-dir {folder}` first)", 2)
    files = {}
    for entry in path.iterdir():
        match = PART_FILE.match(entry.name)
        if match:
            files[int(match.group(1))] = entry
    count = len(files)
    if count == 0:
        fail(f"no comment-N.md in {folder} (run `meshcd report --output-dir {folder}` first)", 2)
    if sorted(files) != list(range(1, count + 1)):
        fail(f"the comments in {folder} are not numbered 1..{count}: {sorted(files)}", 2)
    bodies = []
    for part in range(1, count + 1):
        body = files[part].read_text(encoding="utf-8")
        match = MARKER.search(body)
        if not match or (int(match.group(1)), int(match.group(2))) != (part, count):
            fail(
                f"{files[part]} does not end with `<!-- meshcd-report: part {part} of {count} -->`"
                " (is it from `meshcd report`?)",
                2,
            )
        bodies.append(body)
    return bodies


class SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects only on the API's own origin: the token never goes elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if origin(newurl) != origin(req.full_url):
            raise urllib.error.HTTPError(
                req.full_url, code, f"refusing a redirect to another host ({newurl})", headers, fp
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class Host:
    """One comments API: GitHub issue comments or GitLab merge-request notes."""

    def __init__(self, comments_url, gitlab, token):
        parts = urllib.parse.urlsplit(comments_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            fail(f"COMMENTS_URL must be an http(s) URL, not {comments_url!r}", 2)
        if parts.query or parts.fragment:
            fail("COMMENTS_URL takes no query or fragment", 2)
        path = parts.path.rstrip("/")
        self.gitlab = gitlab
        self.origin = origin(comments_url)
        self.opener = urllib.request.build_opener(SameOriginRedirects)
        self.headers = {"User-Agent": "meshcd-sync-comments", "Accept": "application/json"}
        if gitlab:
            if not re.search(r"/projects/[^/]+/merge_requests/\d+/notes\Z", path):
                fail("COMMENTS_URL must end with /projects/ID/merge_requests/IID/notes", 2)
            self.collection = urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))
            self.item_prefix = self.collection + "/"
            self.list_query = "per_page=100&sort=asc&order_by=created_at"
            self.update_method = "PUT"
            if token:
                self.headers["PRIVATE-TOKEN"] = token
        else:
            match = re.search(r"\A(.*/repos/[^/]+/[^/]+)/issues/\d+/comments\Z", path)
            if not match:
                fail("COMMENTS_URL must end with /repos/OWNER/REPO/issues/NUMBER/comments", 2)
            self.collection = urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))
            self.item_prefix = urllib.parse.urlunsplit(
                (parts.scheme, parts.netloc, match.group(1) + "/issues/comments/", "", "")
            )
            self.list_query = "per_page=100"
            self.update_method = "PATCH"
            self.headers["Accept"] = "application/vnd.github+json"
            self.headers["X-GitHub-Api-Version"] = "2022-11-28"
            if token:
                self.headers["Authorization"] = f"Bearer {token}"

    def request(self, method, url, body=None):
        """(status, headers, parsed JSON or None). Idempotent requests are retried on 5xx."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = dict(self.headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        retry = method in ("GET", "PUT", "PATCH", "DELETE")
        for attempt in range(RETRIES):
            request = urllib.request.Request(url, data=data, method=method, headers=headers)
            try:
                with self.opener.open(request, timeout=30) as response:
                    raw = response.read()
                    parsed = json.loads(raw) if raw.strip() else None
                    return response.status, response.headers, parsed
            except urllib.error.HTTPError as error:
                text = error.read().decode("utf-8", errors="replace")[:500]
                if retry and error.code in (500, 502, 503, 504) and attempt + 1 < RETRIES:
                    time.sleep(2**attempt)
                    continue
                if method == "DELETE" and error.code == 404:
                    return 404, error.headers, None
                fail(f"{method} {url}: HTTP {error.code} {error.reason}: {text}")
            except (urllib.error.URLError, OSError) as error:
                if retry and attempt + 1 < RETRIES:
                    time.sleep(2**attempt)
                    continue
                fail(f"{method} {url}: {getattr(error, 'reason', error)}")
            except json.JSONDecodeError as error:
                fail(f"{method} {url}: the answer is not JSON ({error})")
        raise AssertionError("unreachable")

    def next_page(self, url, headers):
        """The next page: the `Link: <...>; rel="next"` URL, or GitLab's X-Next-Page."""
        for target, params in re.findall(r"<([^>]*)>((?:\s*;\s*[^;,]*)*)", headers.get("Link") or ""):
            rel = re.search(r'rel\s*=\s*"?([^";]*)"?', params)
            if rel and "next" in rel.group(1).split():
                target = urllib.parse.urljoin(url, target)
                if origin(target) != self.origin:
                    fail(f"refusing to follow a next page on another host: {target}")
                return target
        following = (headers.get("X-Next-Page") or "").strip()
        if following:
            parts = urllib.parse.urlsplit(url)
            query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "page"]
            query.append(("page", following))
            return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
        return None

    def list(self):
        url = f"{self.collection}?{self.list_query}"
        comments = []
        for _ in range(MAX_PAGES):
            _, headers, page = self.request("GET", url)
            if not isinstance(page, list):
                fail(f"GET {url}: expected a list of comments, got {type(page).__name__}")
            comments.extend(page)
            url = self.next_page(url, headers)
            if url is None:
                return comments
        fail(f"more than {MAX_PAGES} pages of comments")

    def author(self, comment):
        user = comment.get("author" if self.gitlab else "user") or {}
        return user.get("username" if self.gitlab else "login")

    def create(self, body):
        _, _, comment = self.request("POST", self.collection, {"body": body})
        return comment or {}

    def update(self, comment_id, body):
        _, _, comment = self.request(self.update_method, f"{self.item_prefix}{comment_id}", {"body": body})
        return comment or {}

    def delete(self, comment_id):
        self.request("DELETE", f"{self.item_prefix}{comment_id}")


def part_of(host, comment, author):
    """Which part of a meshcd report a comment is, or None when it is not one (of ours)."""
    if host.gitlab and comment.get("system"):
        return None
    match = MARKER.search(normalized(comment.get("body")))
    if not match:
        return None
    if author is not None and host.author(comment) != author:
        return None
    return int(match.group(1))


def link(comment):
    return comment.get("html_url") or comment.get("web_url") or f"comment {comment.get('id')}"


def main():
    parser = argparse.ArgumentParser(
        prog="sync-comments.sh",
        description="Keep one meshcd report per pull request (or GitLab merge request) up to date.",
    )
    parser.add_argument("dir", help="the folder of `meshcd report --output-dir`")
    parser.add_argument("comments_url", help="the pull request's comments API URL")
    parser.add_argument("--gitlab", action="store_true", help="COMMENTS_URL is a GitLab notes URL")
    parser.add_argument("--author", help="only comments by this login are ours (e.g. github-actions[bot])")
    parser.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    args = parser.parse_args(sys.argv[1:])

    bodies = read_parts(args.dir)
    if args.gitlab:
        token = os.environ.get("GITLAB_TOKEN")
    else:
        token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
    host = Host(args.comments_url, args.gitlab, token)
    if not token:
        print("sync-comments: no token in the environment; trying without one", file=sys.stderr)

    existing = {}
    surplus = []
    for comment in sorted(host.list(), key=lambda c: c["id"]):
        part = part_of(host, comment, args.author)
        if part is None:
            continue
        if part in existing:
            surplus.append((comment, f"a duplicate of part {part}"))
        else:
            existing[part] = comment
    count = len(bodies)
    for part in sorted(p for p in existing if p > count):
        surplus.append((existing.pop(part), f"part {part}, beyond the {count} of this report"))
    kept = sorted(existing)
    ids = [existing[p]["id"] for p in kept]
    if kept != list(range(1, len(kept) + 1)) or ids != sorted(ids):
        # A gap or parts out of order: replace them all so the report reads in order.
        for part in kept:
            surplus.append((existing.pop(part), f"part {part}, replaced to keep the parts in order"))

    verb = "would " if args.dry_run else ""
    for part, body in enumerate(bodies, start=1):
        comment = existing.get(part)
        if comment is None:
            created = {} if args.dry_run else host.create(body)
            print(f"part {part} of {count}: {verb}create {link(created) if created else ''}".rstrip())
        elif normalized(comment.get("body")) == normalized(body):
            print(f"part {part} of {count}: unchanged {link(comment)}")
        else:
            if not args.dry_run:
                host.update(comment["id"], body)
            print(f"part {part} of {count}: {verb}update in place {link(comment)}")
    for comment, why in sorted(surplus, key=lambda item: item[0]["id"]):
        if not args.dry_run:
            host.delete(comment["id"])
        print(f"{verb}delete {link(comment)} ({why})")


main()
PYTHON
