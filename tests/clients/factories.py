"""Valid credit codes and clients for tests."""

from kb.clients import creditcode, services
from kb.extensions import db


def make_code(serial: int, prefix: str = "91110000") -> str:
    """A valid credit code: ``prefix``, a 9-character serial, the check character."""
    body = f"{prefix}{serial:09d}"[:17]
    return body + creditcode.check_character(body)


def make_client(name: str, serial: int, **fields):
    """Create a client through the service; call inside an app context."""
    data = services.ClientInput(name=name, credit_code=make_code(serial), **fields)
    client, _outcome = services.upsert(db.session, data)
    db.session.commit()
    return client
