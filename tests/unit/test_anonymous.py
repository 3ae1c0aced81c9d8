"""anonymous.py: one `anon-N` for each address's visit."""

from __future__ import annotations

from types import SimpleNamespace

from ftplab.anonymous import ADDRESSES_KEPT, AnonymousNumbers, anonymous_name


class Room:
    """Who is here: (name, address) pairs of FTP users a test puts in and takes out, and names
    lab clients chose."""

    def __init__(self):
        self.present: set[tuple[str, str]] = set()
        self.lab_names: set[str] = set()

    def visitor_named(self, name: str) -> SimpleNamespace | None:
        if name in self.lab_names:
            return SimpleNamespace(address="10.9.9.9", by_ftp=False)
        address = next((address for named, address in self.present if named == name), None)
        return SimpleNamespace(address=address, by_ftp=True) if address is not None else None

    def __len__(self) -> int:
        return len(self.present) + len(self.lab_names)


def test_logins_from_one_address_share_a_number_while_the_visit_lasts_and_the_next_visit_gets_a_new_one():
    room = Room()
    numbers = AnonymousNumbers(room)
    first = numbers.number_for("10.0.0.1")
    assert numbers.number_for("10.0.0.1") == first, "a second login while the first is under way"
    room.present.add((anonymous_name(first), "10.0.0.1"))
    assert numbers.number_for("10.0.0.1") == first, "a login while the visit lasts"
    assert numbers.number_for("10.0.0.2") != first, "another address is another person"
    room.present.clear()
    assert numbers.number_for("10.0.0.1") not in (first, first + 1), "a new visit"


def test_the_numbers_of_ended_visits_are_forgotten_and_the_table_stays_near_the_rooms_size():
    room = Room()
    numbers = AnonymousNumbers(room)
    here = numbers.number_for("10.0.0.1")
    room.present.add((anonymous_name(here), "10.0.0.1"))
    for host in range(5 * ADDRESSES_KEPT):  # logins that never finished, each from its own address
        numbers.number_for(f"10.1.{host // 256}.{host % 256}")
    assert len(numbers._given) <= 2 * len(room) + ADDRESSES_KEPT + 1
    assert numbers.number_for("10.0.0.1") == here, "a visit that lasts keeps its number"


def test_a_name_someone_chose_is_skipped():
    room = Room()
    numbers = AnonymousNumbers(room)
    room.lab_names.add(anonymous_name(1))  # a lab client called anon-1
    room.present.add((anonymous_name(2), "10.0.0.7"))  # `USER anon-2` from 10.0.0.7
    assert numbers.number_for("10.0.0.1") == 3
    assert numbers.number_for("10.0.0.7") == 4, "anon-2 is not this login's visit"
