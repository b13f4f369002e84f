"""The national push relay wakes after a worker that queued a push, not after every read (a relay pass
is a database transaction: it was run after each of the offers service's reads)."""

from services.offers.fhir import national


class FakeSession:
    def __init__(self):
        self.info, self.added = {}, []

    def add(self, row):
        self.added.append(row)

    def flush(self):
        pass


def test_a_transaction_that_queues_a_push_says_so(monkeypatch):
    monkeypatch.setattr(national, "_latest_versions", lambda session, keys: {("Organization", "ej-1"): "3"})
    already_sent, session = [{"resourceType": "Organization", "id": "ej-1", "meta": {"versionId": "3"}}], FakeSession()
    assert national.enqueue(session, "idf", already_sent, "offer:1:published") == 0
    assert national.QUEUED not in session.info  # nothing to send: the relay is not woken
    new = [{"resourceType": "HealthcareService", "id": "uo-1", "meta": {"versionId": "1"}}]
    assert national.enqueue(session, "idf", new, "offer:1:published") == 1
    assert session.info[national.QUEUED] is True


def test_the_relay_is_woken_only_after_a_worker_that_queued(monkeypatch):
    from services.common.dependencies import Database
    from services.offers.dependencies import NationalPushRelay

    db = Database()
    db._sessions = {}
    relay = NationalPushRelay()
    relay.container = type("Container", (), {"dependencies": {db, relay}})()
    woken = []
    monkeypatch.setattr(relay, "wake", lambda: woken.append(True))
    reader_worker, writer_worker = object(), object()
    db._sessions[reader_worker] = FakeSession()
    writer = db._sessions[writer_worker] = FakeSession()
    writer.info[national.QUEUED] = True
    relay.worker_result(reader_worker)
    assert woken == []
    relay.worker_result(writer_worker)
    assert woken == [True]
