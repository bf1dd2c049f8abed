"""A reservation's message written from the kept one is the message built field by field, for the
reservation as it is now: a changed reservation is never answered with an earlier version's message."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from services.core.model import ReservationStatus
from services.grpc import translate
from services.grpc.generated import reservations_pb2 as pb
from tests.support.drafts import SAMPLE

BOOKED = SAMPLE
CREATED = SAMPLE.created_at
# The same reservation as it changes: each step a new value, as the core returns it.
HISTORY = (
    BOOKED,
    dataclasses.replace(BOOKED, purpose="Study group", version=2, updated_at=CREATED + timedelta(minutes=1)),
    dataclasses.replace(
        BOOKED,
        purpose="Study group",
        status=ReservationStatus.CANCELED,
        cancel_reason="ill",
        version=3,
        updated_at=CREATED + timedelta(minutes=2),
    ),
    dataclasses.replace(
        BOOKED, status=ReservationStatus.CHECKED_IN, version=2, updated_at=CREATED + timedelta(seconds=1)
    ),
)


def test_a_copied_message_is_the_built_one_for_every_state_of_a_reservation() -> None:
    for _ in range(2):  # the second pass copies from kept messages
        for reservation in HISTORY:
            response = pb.GetReservationResponse()
            translate.copy_reservation(response.reservation, reservation)

            assert response.reservation == translate.fill_reservation(pb.Reservation(), reservation)
            assert translate.reservation_from_message(response.reservation) == reservation


def test_a_changed_reservation_is_answered_as_it_is_now() -> None:
    page = pb.ListReservationsResponse()
    translate.copy_reservations(page.items, (BOOKED, HISTORY[2], BOOKED))

    assert [item.version for item in page.items] == [1, 3, 1]
    assert [item.status for item in page.items] == [
        pb.RESERVATION_STATUS_RESERVED,
        pb.RESERVATION_STATUS_CANCELED,
        pb.RESERVATION_STATUS_RESERVED,
    ]
    assert not page.items[0].HasField("cancel_reason") and page.items[1].cancel_reason == "ill"
    assert list(page.items[1].actions) == []


def test_changing_an_answer_does_not_change_the_next_one() -> None:
    first = pb.Reservation()
    translate.copy_reservation(first, BOOKED)
    first.guest_name = "Mallory"
    first.actions.append("delete-everything")

    second = pb.Reservation()
    translate.copy_reservation(second, BOOKED)

    assert second.guest_name == SAMPLE.guest_name
    assert "delete-everything" not in second.actions
