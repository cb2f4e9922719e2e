#!/usr/bin/python3
"""Asks postfix-mta-sts-resolver (a real MTA-STS client, Debian package) for the policy of
one or more domains, with its DNS pointed at a test server and its trust store at a test CA.

    resolver_driver.py --dns 127.0.0.1:PORT --ca-file CA.pem [--timeout 5] DOMAIN...

Prints one JSON object per domain, one per line:
    {"domain": D, "result": "VALID"|"NONE"|"FETCH_ERROR"|"NOT_CHANGED",
     "id": ID or null, "policy": {"version", "mode", "max_age", "mx": [...], ...} or null}

Only the resolver's surroundings are changed: every aiodns resolver it creates (for the
_mta-sts TXT lookup, and for aiohttp's lookup of mta-sts.<domain>) asks the given server
instead of /etc/resolv.conf, and OpenSSL's default trust store is the given CA file
(SSL_CERT_FILE, read by ssl.create_default_context). Its DNS handling, record selection,
HTTP fetch, certificate verification and policy parsing are its own, unmodified.

Run it with /usr/bin/python3: the Debian packages it needs are not visible to other
interpreters on PATH.
"""
import argparse
import asyncio
import json
import os
import sys


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dns", required=True, help="IP:PORT of the DNS server to ask")
    parser.add_argument("--ca-file", required=True, help="PEM trust anchors for the policy host")
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("domains", nargs="+")
    return parser.parse_args()


def main():
    args = parse_args()
    host, sep, port = args.dns.rpartition(":")
    if not sep or not host or not port.isdigit():
        sys.exit("resolver_driver: --dns must be IP:PORT, got %r" % args.dns)
    if not os.path.isfile(args.ca_file):
        sys.exit("resolver_driver: --ca-file %s: no such file" % args.ca_file)

    # Set before ssl contexts are made: OpenSSL reads it in set_default_verify_paths.
    os.environ["SSL_CERT_FILE"] = args.ca_file
    os.environ.pop("SSL_CERT_DIR", None)
    # A proxy from the environment would be used by the resolver for the policy fetch.
    for name in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        os.environ.pop(name, None)

    try:
        import aiodns
        import aiohttp.connector
        import aiohttp.resolver
        from postfix_mta_sts_resolver.resolver import STSResolver
    except ImportError as exc:
        sys.exit("resolver_driver: cannot import postfix-mta-sts-resolver or its dependencies "
                 "(apt-get install postfix-mta-sts-resolver; run with /usr/bin/python3): %s" % exc)

    original_init = aiodns.DNSResolver.__init__

    def pinned_init(self, nameservers=None, loop=None, **kwargs):
        # c-ares takes the port as a channel option; servers set without one use it.
        kwargs["udp_port"] = int(port)
        kwargs["tcp_port"] = int(port)
        original_init(self, nameservers=[host], loop=loop, **kwargs)

    aiodns.DNSResolver.__init__ = pinned_init
    # aiohttp resolves with getaddrinfo (the system's resolver) unless told otherwise.
    aiohttp.connector.DefaultResolver = aiohttp.resolver.AsyncResolver

    async def resolve_all():
        resolver = STSResolver(timeout=args.timeout, loop=asyncio.get_running_loop())
        out = []
        for domain in args.domains:
            status, answer = await resolver.resolve(domain)
            sts_id, policy = (answer if answer else (None, None))
            out.append({"domain": domain, "result": status.name, "id": sts_id, "policy": policy})
        return out

    import logging
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    for line in asyncio.run(resolve_all()):
        print(json.dumps(line, sort_keys=True))


if __name__ == "__main__":
    main()
