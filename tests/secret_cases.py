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
