"""Secrets to paste into every door: the field cases (`../shared/field-cases/secrets.jsonl`)
and variations of the same kinds, each with the part that must not survive."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from curation.db import Database
from curation.models import Base

FIELD_CASES = Path(__file__).resolve().parents[2] / "shared" / "field-cases" / "secrets.jsonl"

#: (text, the part that must not survive): other shapes of the field cases' kinds.
VARIATIONS: list[tuple[str, str]] = [
    ("redis://:R3disPassw0rd@cache.internal:6379/0", "R3disPassw0rd"),
    ("amqp://guest:Gu3stRabbit!@mq:5672", "Gu3stRabbit!"),
    ("mongodb+srv://app:M0ngoPass99@cluster0.x.mongodb.net/db", "M0ngoPass99"),
    ("smtp://mailer:Sm7pPass@smtp.example:587", "Sm7pPass"),
    ("DATABASE_URL=postgresql+psycopg://u:p%40ss@h/db", "p%40ss"),
    ("export DB_PASSWORD='s3cr3t pass'", "s3cr3t pass"),
    ('MYSQL_ROOT_PASSWORD: "rootpw"', "rootpw"),
    ("PGPASSWORD=pgpass123 psql -h db", "pgpass123"),
    ('{"password": "jsonpass"}', "jsonpass"),
    ('{"db": {"Password" : "Nest3dPw"}}', "Nest3dPw"),
    ("{'client_secret': 'csecret-value-123'}", "csecret-value-123"),
    ('{\\"password\\": \\"escaped1\\"}', "escaped1"),
    ("Server=db;User Id=sa;Password=myPassw0rd;Database=x", "myPassw0rd"),
    ("mysql --user=root --password=Sup3rSecret db", "Sup3rSecret"),
    ("my password is hunter2", "hunter2"),
    ("my password is: hunter", "hunter"),
    ("my new password will be sunshine", "sunshine"),
    ("I changed my okta password to bluebird", "bluebird"),
    ("my pw is sunshine", "sunshine"),
    ("our wifi password = letmein", "letmein"),
    ("The pw is Tr0ub4dor&3", "Tr0ub4dor&3"),
    ("Password: Winter2026!", "Winter2026!"),
    ("api_key=abc123def456", "abc123def456"),
    ("token: 9f8e7d6c5b4a3928", "9f8e7d6c5b4a3928"),
    (
        "[default]\naws_access_key_id = ASIAQWERTYUIOPASDFGH\n"
        "aws_secret_access_key=Zx8/Cv7+Bn6Ml5Kj4Hg3Fd2Sa1Qw0Er9Ty8Ui7Op",
        "Zx8/Cv7+Bn6Ml5Kj4Hg3Fd2Sa1Qw0Er9Ty8Ui7Op",
    ),
    ("key: Zx8/Cv7+Bn6Ml5Kj4Hg3Fd2Sa1Qw0Er9Ty8Ui7Op", "Zx8/Cv7+Bn6Ml5Kj4Hg3Fd2Sa1Qw0Er9Ty8Ui7Op"),
    (
        '"SecretAccessKey": "Ab1/Cd2+Ef3Gh4Ij5Kl6Mn7Op8Qr9St0UvWxYzAbC"',
        "Ab1/Cd2+Ef3Gh4Ij5Kl6Mn7Op8Qr9St0",
    ),
    (
        "https://acct.blob.core.windows.net/c/f?sv=2022-11-02&sig=AbCdEf0123456789%2Babcdef%3D",
        "AbCdEf0123456789%2Babcdef",
    ),
    (
        "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;"
        "SharedAccessKey=SbKey0123456789abcdefABCDEF=",
        "SbKey0123456789abcdefABCDEF",
    ),
    ("LTAI5tAbCdEfGhIjKlMnOpQr alibaba", "LTAI5tAbCdEfGhIjKlMnOpQr"),
    ("AKIAZZZZ1234567890ABCDEF in the console", "AKIAZZZZ1234567890ABCDEF"),
    (
        "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIECprivatekeybody0123456789abc\n"
        "-----END EC PRIVATE KEY-----",
        "MHcCAQEEIECprivatekeybody0123456789abc",
    ),
    ("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHzBJBgkqENCRYPTEDBODY0123\n", "ENCRYPTEDBODY"),
    ('"-----BEGIN PRIVATE KEY-----\\nMIIEvJSONCUT0123456789abcdef', "MIIEvJSONCUT0123456789abcdef"),
    (
        "-----BEGIN RSA PRIVATE KEY-----\r\nMIIEpAIBCRLF0123456789abcdef\r\n",
        "MIIEpAIBCRLF0123456789abcdef",
    ),
    ("card 4111111111111111", "4111111111111111"),
    ("amex 3782 822463 10005", "3782 822463 10005"),
    ("card: 5555-5555-5555-4444 cvc: 321", "5555-5555-5555-4444"),
    ("xoxe.xoxp-1-Mi0yLTEyMzQ1Njc4OTAtMTIzNDU2Nzg5MA", "Mi0yLTEyMzQ1Njc4OTAtMTIzNDU2Nzg5MA"),
    ("glpat-AbCdEfGhIjKlMnOpQrSt", "AbCdEfGhIjKlMnOpQrSt"),
    (
        "SG.abcdefghijklmnopqrstuv.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    ),
    ("Authorization: token ghp_shortbutreal123", "ghp_shortbutreal123"),
    ('-H "X-Api-Key: k3y-abc-123-xyz"', "k3y-abc-123-xyz"),
    ("?access_token=ya29.a0AfH6SMBabcdefghijklmnopqrstuvwxyz&x=1", "a0AfH6SMBabcdefghijk"),
    ("the password for the admin panel is letmein123", "letmein123"),
    ("My wifi password is bluebird.", "bluebird"),
    ("our shared door code pin is 937146205", "937146205"),
    ("mysql -u root -pS3cretPass123 mydb", "S3cretPass123"),
    ("mysqldump -h db -u app -p'Dump Pass1' shop > shop.sql", "Dump Pass1"),
    ("sshpass -p Hunter22 ssh deploy@box", "Hunter22"),
    ("docker login -u bob -p Abc123xyz registry.example", "Abc123xyz"),
    ("redis-cli -h cache -a Xk29fjs83 ping", "Xk29fjs83"),
    ("curl -u admin:S3cret! https://jenkins.internal/api", "S3cret!"),
    ("curl --user=ci:hunter2token https://nexus.internal", "hunter2token"),
    # Slack browser session: client token and its URL-encoded `d` cookie.
    ("xoxc-1234567890-1234567890-1234567890-abcdef0123456789", "1234567890-abcdef0123456789"),
    ("devtools says xoxc-2345678901-3456789012-4567-0f1e2d3c4b5a6978", "0f1e2d3c4b5a6978"),
    ("cookie d=xoxd-AbCdEf0123456789%2FgHiJkLmN%2BoPqRsTuV%3D; d-s=1700", "gHiJkLmN%2BoPqRsTuV"),
    # .netrc and .pgpass lines.
    ("machine api.example.com login bob password S3cretNetrc!", "S3cretNetrc!"),
    ("~/.netrc:\nmachine git.corp.example\n  login ci-bot\n  password gh0stRider\n", "gh0stRider"),
    ("default login anonymous password guestpassword", "guestpassword"),
    ("machine ftp.example.org password Ftp-Pass-42", "Ftp-Pass-42"),
    ("db.internal:5432:app:appuser:PgPassLine99", "PgPassLine99"),
    ("my ~/.pgpass has\n*:5432:*:replicator:plainwordpass\nin it", "plainwordpass"),
    ("localhost:*:shop:shop_rw:Pa\\:ss99word", "ss99word"),
    # kubeconfig and Kubernetes: base64 private keys (not certificates), tokens.
    (
        "client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFcEFJQkFBS0NBUUVB",
        "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFcEFJQkFBS0NBUUVB",
    ),
    ('"client-key-data": "LS0tLS1CRUdJTiBS"', "LS0tLS1CRUdJTiBS"),
    (
        "tls.key: LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tCk1IY0NBUUVFSUFiQ2RFZg==",
        "LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tCk1IY0NBUUVFSUFiQ2RFZg",
    ),
    ("users:\n- name: admin\n  user:\n    token: kube-t0ken-abc123xyz", "kube-t0ken-abc123xyz"),
    # Token formats by prefix.
    ("dapi0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"),
    ("databricks token dapi9f8e7d6c5b4a39281706f5e4d3c2b1a0-2", "9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
    ("GOCSPX-AbCdEfGhIjKlMnOpQrStUvWxYz01", "AbCdEfGhIjKlMnOpQrStUvWxYz01"),
    ("oauth client GOCSPX-9z8Y7x6W5v4U3t2S1r0QpOnMlK for the app", "9z8Y7x6W5v4U3t2S1r0QpOnMlK"),
    ("GR1348941AbCdEfGhIjKlMnOpQrSt", "AbCdEfGhIjKlMnOpQrSt"),
    ("runner register --token GR1348941Zz9Yy8Xx7Ww6Vv5Uu4Tt3", "Zz9Yy8Xx7Ww6Vv5Uu4Tt3"),
    ("glft-AbCdEfGhIjKlMnOpQrSt", "AbCdEfGhIjKlMnOpQrSt"),
    ("feed glsoat-Q1w2E3r4T5y6U7i8O9p0As", "Q1w2E3r4T5y6U7i8O9p0As"),
    ("glrt-t1_Ab3dEf6hIj9lMn2pQr5tUv", "Ab3dEf6hIj9lMn2pQr5tUv"),
    ("glagent-" + "Kq7" * 17, "Kq7" * 17),
    ("glimt-0a1b2c3d4e5f6g7h8i9j0k1l2", "0a1b2c3d4e5f6g7h8i9j0k1l2"),
    ("shpat_0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"),
    ("shopify 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", "fedcba9876543210fedcba9876543210"),
    (
        "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 and 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",
        "ffeeddccbbaa99887766554433221100",
    ),
    (
        "hvs.CAESIAbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefGh",
        "CAESIAbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefGh",
    ),
    ("VAULT_TOKEN hvb.AAAAAQJz0zBvWUNOIKTkDhY4aB5bCdEf", "AAAAAQJz0zBvWUNOIKTkDhY4aB5bCdEf"),
    (
        "groq gsk_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefGhIjKlMnOp",
        "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefGhIjKlMnOp",
    ),
    (
        "notion secret_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefG",
        "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefG",
    ),
    (
        "ntn_123456789012AbCdEfGhIjKlMnOpQrStUvWxYz0123456789ab",
        "123456789012AbCdEfGhIjKlMnOpQrStUvWxYz",
    ),
    (
        "postman PMAK-0123456789abcdef01234567-0123456789abcdef0123456789abcdef01",
        "0123456789abcdef0123456789abcdef01",
    ),
    (
        "sntrys_eyJpYXQiOjE2ODAwMDAwMDB9_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcd",
        "eyJpYXQiOjE2ODAwMDAwMDB9",
    ),
    ("sntryu_" + "0a1b2c3d" * 8, "0a1b2c3d" * 8),
    ("glsa_AbCdEfGhIjKlMnOpQrStUvWxYz012345_0123abcd", "AbCdEfGhIjKlMnOpQrStUvWxYz012345"),
    (
        "grafana cloud glc_eyJvIjoiMTIzNDU2IiwibiI6InN0YWNrIiwiayI6IkFiQ2QifQ==",
        "eyJvIjoiMTIzNDU2IiwibiI6InN0YWNrIiwiayI6IkFiQ2QifQ",
    ),
    (
        "jira ATATT3xFfGF0AbCdEfGhIjKlMnOpQrStUvWxYz0123456789=ABCDEF01",
        "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    ),
    ("pul-0123456789abcdef0123456789abcdef01234567", "0123456789abcdef0123456789abcdef01234567"),
    (
        "Authorization: SSWS 00abcDEF0123456789abcdefGHIJKLmnopQRSTuvwx",
        "00abcDEF0123456789abcdefGHIJKLmnopQRSTuvwx",
    ),
    (
        "okta key SSWS 00QcT8Cx9bM2nL7kJ4hG1fD6sA3zX5vB0nM8qW2eYz",
        "00QcT8Cx9bM2nL7kJ4hG1fD6sA3zX5vB0nM8qW2eYz",
    ),
    ("AGE-SECRET-KEY-1" + "QYQSZQGPQ" * 6 + "YQSZ", "QYQSZQGPQ" * 6),
    # Discord: a current-format bot token taken whole, webhooks.
    (
        "bot MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.Qw3rTy7uIoP9aSdFgHjKlZxCvBnM1234567zZq",
        "M1234567zZq",
    ),
    (
        "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA.GxYzAb.Pq9rSt8uVw7xYz6AbC5dEf4GhI3jKl2MnO1pQr",
        "MnO1pQr",
    ),
    (
        "https://discord.com/api/webhooks/123456789012345678/"
        "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-AbCdEfGhIjKlMnOpQrStUvWxYz01",
        "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-AbCdEfGhIjKlMnOpQrStUvWxYz01",
    ),
    (
        "hook https://discordapp.com/api/webhooks/987654321098765432/Zy9Xw8Vu7Ts6Rq5Po4Nm3Lk2Ji1",
        "Zy9Xw8Vu7Ts6Rq5Po4Nm3Lk2Ji1",
    ),
    ("<https://canary.discord.com/api/v10/webhooks/111/tok3n_AbCdEfGhIjKlMnOp>", "tok3n_AbCd"),
    # Sentry DSN: the key is the userinfo.
    ("dsn https://abc123@o123.ingest.sentry.io/456", "abc123@"),
    (
        "SENTRY_DSN https://abc123def4567890abc123def4567890@o99.ingest.us.sentry.io/4507",
        "abc123def4567890abc123def4567890",
    ),
    ("https://0f1e2d3c4b5a69788796a5b4c3d2e1f0@errors.corp.example/12", "0f1e2d3c4b5a6978"),
    # Twilio: a bare hex auth token next to the word Twilio.
    ("twilio auth 0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"),
    (
        "Twilio SID AC0123456789abcdef0123456789abcdef, "
        "auth token f0e1d2c3b4a5968778695a4b3c2d1e0f",
        "f0e1d2c3b4a5968778695a4b3c2d1e0f",
    ),
    ("TWILIO_AUTH_TOKEN=0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"),
    # Docker's config.json: base64 of user:password.
    ('"auth": "dXNlcjpwYXNzd29yZA=="', "dXNlcjpwYXNzd29yZA=="),
    (
        '{"auths": {"registry.example.com": {"auth": "Ym9iOlMzY3JldFJlZ2lzdHJ5"}}}',
        "Ym9iOlMzY3JldFJlZ2lzdHJ5",
    ),
    (
        '{\\"auths\\":{\\"ghcr.io\\":{\\"auth\\":\\"Y2k6Z2gwLVJlZ2ktUGFzcw==\\"}}}',
        "Y2k6Z2gwLVJlZ2ktUGFzcw",
    ),
    # Passwords in URLs holding / + = @ #: the userinfo ends at the last @ before the host.
    ("mongodb://root:Ab/cd+ef=@mongo:27017", "Ab/cd+ef="),
    ("postgres://app:p@ss#w0rd!@db.internal/app", "ss#w0rd!"),
    ("<redis://default:x/y@z#1q@cache.internal:6379>", "z#1q"),
    ("amqps://svc:Tr1cky/Pass=word@mq.internal/vhost", "Tr1cky"),
    # Said in prose: after a colon, and quoted with a space.
    ("The password is: tiger-Lily7", "tiger-Lily7"),
    ("the passcode was:4417-Zulu", "4417-Zulu"),
    ("the password is 'Bl4ck Cat'", " Cat'"),
    ('The Wi-Fi password is "Purple Monkey Dishwasher"', "Monkey Dishwasher"),
    ("my password is 'correct horse battery'", "horse battery"),
    # Line breaks escaped in pasted JSON, or by a log line's %r.
    (
        '{"notes": "rotate weekly\\ndapi00112233445566778899aabbccddeeff"}',
        "00112233445566778899aabbcc",
    ),
    ('"config": "[db]\\nmachine db login u password pl41nNetrc\\n"', "pl41nNetrc"),
    ("note for later:\nmy pw is sunshine, thanks", "sunshine"),
]


def field_cases() -> list[dict[str, Any]]:
    """The field cases, where the shared folder beside the repository holds them (a fresh
    clone elsewhere has only the variations below, which cover the same kinds)."""
    if not FIELD_CASES.is_file():
        return []
    lines = FIELD_CASES.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def all_cases() -> list[tuple[str, str, str]]:
    """(name, text, must not survive) for every field case and variation."""
    cases = [(c["kind"], c["text"], c["must_not_survive"]) for c in field_cases()]
    cases += [(f"variation {n}", text, part) for n, (text, part) in enumerate(VARIATIONS)]
    return cases


def stored_text(db: Database) -> str:
    """Every value of every row of every table, as text: what the database holds."""
    parts: list[str] = []
    with db.read_session() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                parts.extend(json.dumps(value, default=str) for value in row)
                parts.extend(str(value) for value in row)
    return "\n".join(parts)
