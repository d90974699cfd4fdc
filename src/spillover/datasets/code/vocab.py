"""The words programs are made of: apps, their records and fields, and how a programmer names things.

Drawn once per program into a :class:`Ctx`, so the identifiers, paths, routes and constants of one program
hang together and differ between programs. Plain data; nothing here knows about vulnerabilities.
"""

from __future__ import annotations

import random
from typing import NamedTuple

DOMAINS = """
bookshop: book/books title author isbn price stock
bookshop: order/orders customer total status placed_at
bookshop: review/reviews rating body book_id
clinic: patient/patients full_name birth_date phone insurer
clinic: appointment/appointments doctor room starts_at
clinic: prescription/prescriptions drug dose patient_id
library: loan/loans member_id due_date returned
library: member/members card_number email joined
library: title/titles author shelf year
helpdesk: ticket/tickets subject priority assignee state
helpdesk: agent/agents email team shift
helpdesk: reply/replies ticket_id author body
school: student/students surname grade homeroom email
school: course/courses code teacher credits
school: enrollment/enrollments student_id course_id term
gym: member/members email plan expires
gym: session/sessions trainer room starts_at
gym: locker/lockers number owner size
bakery: product/products name price category
bakery: order/orders customer pickup_at total
bakery: supplier/suppliers company phone city
garage: vehicle/vehicles plate make model owner
garage: repair/repairs vehicle_id mechanic cost
garage: part/parts sku name supplier
museum: exhibit/exhibits title hall curator
museum: ticket/tickets visitor visit_date price
museum: artwork/artworks artist year medium
hotel: room/rooms number floor rate kind
hotel: booking/bookings guest check_in nights
hotel: guest/guests surname email country
airline: flight/flights number origin destination departs
airline: passenger/passengers surname passport seat
airline: crew/crews captain base aircraft
payroll: employee/employees surname department salary manager
payroll: payslip/payslips employee_id month net
payroll: department/departments name budget head
recipes: recipe/recipes title cuisine minutes author
recipes: ingredient/ingredients name unit calories
recipes: rating/ratings recipe_id stars reviewer
inventory: item/items sku name quantity location
inventory: warehouse/warehouses city capacity manager
inventory: shipment/shipments carrier tracking eta
newsroom: article/articles headline section author published
newsroom: source/sources name outlet phone
newsroom: draft/drafts title editor status
crm: lead/leads company contact stage score
crm: account/accounts name industry owner
crm: note/notes lead_id author body
forum: thread/threads title board author
forum: post/posts thread_id author body
forum: badge/badges name holder awarded
ticketing: concert/concerts artist venue date
ticketing: seat/seats section row price
ticketing: buyer/buyers email phone country
fleet: truck/trucks plate driver depot
fleet: route/routes origin destination distance
fleet: delivery/deliveries route_id status eta
vet: pet/pets name species owner breed
vet: visit/visits pet_id vet reason
vet: vaccine/vaccines name due_date pet_id
realty: listing/listings address price bedrooms agent
realty: viewing/viewings listing_id buyer slot
realty: agent/agents surname phone office
events: event/events title venue starts_at capacity
events: attendee/attendees email company badge
events: speaker/speakers surname topic slot
banking: transfer/transfers sender recipient amount status
banking: card/cards holder last_four expires
banking: branch/branches city manager phone
streaming: song/songs title artist album duration
streaming: playlist/playlists owner title public
streaming: artist/artists name genre country
wiki: page/pages slug title editor revision
wiki: revision/revisions page_id author summary
wiki: category/categories name parent
parking: permit/permits plate zone expires
parking: zone/zones code rate capacity
parking: fine/fines plate amount issued
survey: survey/surveys title owner closes
survey: response/responses survey_id respondent score
survey: question/questions survey_id text kind
rental: bike/bikes frame size station
rental: rental/rentals bike_id rider started
rental: station/stations name district docks
lab: sample/samples barcode collected owner
lab: assay/assays sample_id method result
lab: instrument/instruments name room serial
charity: donor/donors surname email city
charity: donation/donations donor_id amount campaign
charity: campaign/campaigns title goal ends
farm: field/fields crop hectares owner
farm: harvest/harvests field_id tonnes season
farm: tractor/tractors model hours depot
courier: parcel/parcels tracking sender weight
courier: driver/drivers surname van zone
courier: pickup/pickups parcel_id slot status
dental: patient/patients surname phone dentist
dental: treatment/treatments patient_id procedure cost
dental: invoice/invoices patient_id total paid
cinema: film/films title director rating
cinema: screening/screenings film_id hall starts_at
cinema: booking/bookings screening_id seat email
podcast: episode/episodes title host minutes
podcast: guest/guests surname topic episode_id
podcast: sponsor/sponsors company budget slot
"""

IRREGULAR_AN = ("uni", "use", "eu", "one")


class Noun(NamedTuple):
    """A kind of record: its singular, plural and fields."""

    one: str
    many: str
    fields: tuple[str, ...]


def _domains() -> dict[str, tuple[Noun, ...]]:
    out: dict[str, tuple[Noun, ...]] = {}
    for line in DOMAINS.strip().splitlines():
        app, rest = line.split(": ", 1)
        names, *fields = rest.split()
        one, many = names.split("/")
        out[app] = (*out.get(app, ()), Noun(one, many, tuple(fields)))
    return out


APPS = _domains()


def a(noun: str) -> str:
    """The noun with its indefinite article.

    >>> a("employee"), a("user"), a("book"), a("hour")
    ('an employee', 'a user', 'a book', 'an hour')
    """
    first = noun.lower()
    vowel = first[:1] in "aeio" or (first[:1] == "u" and not first.startswith(IRREGULAR_AN)) or first.startswith("hour")
    return ("an " if vowel else "a ") + noun


def words(name: str) -> str:
    """An identifier as words: ``starts_at`` -> ``starts at``."""
    return name.replace("_", " ")


class Ctx(NamedTuple):
    """One program's names, drawn together (see :func:`draw`)."""

    app: str
    noun: Noun
    field: str
    """The field the program looks things up by."""
    conn: str
    cur: str
    rows: str
    verb: str
    db_const: str
    db_file: str
    folder: str
    """A directory constant's value."""
    limit: int
    timeout: int
    port: int
    host: str


def draw(rng: random.Random) -> Ctx:
    """A fresh set of names for one program."""
    app = rng.choice(sorted(APPS))
    noun = rng.choice(APPS[app])
    return Ctx(
        app=app,
        noun=noun,
        field=rng.choice(noun.fields),
        conn=rng.choice(["conn", "db", "connection", "con"]),
        cur=rng.choice(["cur", "cursor", "c", "db_cursor"]),
        rows=rng.choice(["rows", "results", "records", noun.many, "matches", f"{noun.one}_rows", "found"]),
        verb=rng.choice(["get", "fetch", "load", "find", "lookup", "read", "query", "select"]),
        db_const=rng.choice(["DB_PATH", "DATABASE", "DB_FILE", "SQLITE_PATH", f"{app.upper()}_DB"]),
        db_file=rng.choice([f"{app}.db", f"data/{app}.sqlite3", f"/var/lib/{app}/{app}.db", f"instance/{app}.db"]),
        folder=rng.choice(
            [
                f"/srv/{app}/{noun.many}",
                f"/var/{app}/uploads",
                f"data/{noun.many}",
                f"/opt/{app}/storage/{noun.many}",
                f"{app}_files",
            ]
        ),
        limit=rng.choice([10, 20, 25, 30, 50, 100, 200]),
        timeout=rng.choice([3, 5, 8, 10, 15, 20, 30]),
        port=rng.choice([5000, 5001, 8000, 8080, 8081, 8888, 3000, 9000]),
        host=rng.choice(
            [
                f"api.{app}.example.com",
                f"{app}-partner.example.org",
                f"status.{app}.example.net",
                f"data.{app}.example.io",
                f"feeds.example.com/{app}",
            ]
        ),
    )
