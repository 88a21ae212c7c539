"""Django side of harness.py: settings for one database, the app's models."""
import os
import sys
from urllib.parse import urlparse

import django
from django.conf import settings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def sqlite_url(path):
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": path}


def pg_url(url):
    u = urlparse(url)
    return {"ENGINE": "django.db.backends.postgresql", "NAME": u.path.lstrip("/"),
            "USER": u.username or "root", "HOST": u.hostname or "127.0.0.1", "PORT": u.port or 5432}


def configure(db):
    if not settings.configured:
        settings.configure(DATABASES={"default": db}, INSTALLED_APPS=["djapp"], USE_TZ=True,
                           TIME_ZONE="UTC", DEFAULT_AUTO_FIELD="django.db.models.AutoField")
        django.setup()


def setup(db, old_only):
    from harness import AUTHORS, EVENTS, OLD_AUTHORS, OLD_POSTS, POSTS
    configure(db)
    from django.core.management import call_command
    call_command("migrate", run_syncdb=True, verbosity=0)
    from djapp.models import Author, Event, Post
    authors = AUTHORS[:OLD_AUTHORS] if old_only else AUTHORS
    objs = [Author.objects.create(**a) for a in authors]
    for p in POSTS[:OLD_POSTS] if old_only else POSTS:
        Post.objects.create(**{**p, "author": objs[p["author"]]})
    if not old_only:
        for e in EVENTS:
            Event.objects.create(**e)


def read(db):
    from harness import normalize
    configure(db)
    from djapp.models import Author, Event, Post
    out = {}
    for model in (Author, Post, Event):
        fields = [f.attname for f in model._meta.concrete_fields]
        out[model.__name__] = {str(o.pk): {f: normalize(getattr(o, f)) for f in fields}
                               for o in model.objects.all()}
    return out


def queries(db):
    import datetime as dt
    from decimal import Decimal
    from harness import UTC, U
    configure(db)
    from djapp.models import Author, Event, Post
    ids = lambda qs: sorted(str(o.pk) for o in qs)
    return {
        "joined range": ids(Author.objects.filter(joined__gte=dt.datetime(2000, 1, 1, tzinfo=UTC))),
        "joined equal": ids(Author.objects.filter(joined=dt.datetime(2000, 1, 1, tzinfo=UTC))),
        "joined micros equal": ids(Author.objects.filter(
            joined=dt.datetime(2025, 11, 13, 8, 30, 0, 123456, tzinfo=UTC))),
        "born range": ids(Author.objects.filter(born__lt=dt.date(2000, 1, 1))),
        "born year 9999": ids(Author.objects.filter(born__year=9999)),
        "active": ids(Author.objects.filter(active=True)),
        "wakes equal": ids(Author.objects.filter(wakes=dt.time(12, 30, 15, 500000))),
        "wakes range": ids(Author.objects.filter(wakes__gt=dt.time(12, 0))),
        "uuid equal": ids(Author.objects.filter(id=U[1])),
        "at equal": ids(Post.objects.filter(at=dt.time(12, 30, 15, 500000))),
        "at range": ids(Post.objects.filter(at__lt=dt.time(9, 0))),
        "reading range": ids(Post.objects.filter(reading__gt=dt.timedelta(hours=1))),
        "reading equal": ids(Post.objects.filter(reading=dt.timedelta(0))),
        "price range": ids(Post.objects.filter(price__gte=Decimal("7.00"))),
        "price equal": ids(Post.objects.filter(price=Decimal("12.50"))),
        "json key": ids(Post.objects.filter(payload__tag="a")),
        "json has key": ids(Post.objects.filter(payload__has_key="deep")),
        "json nested": ids(Post.objects.filter(payload__deep__a=1)),
        "published range": ids(Post.objects.filter(
            published__gt=dt.datetime(2025, 11, 13, 8, 30, tzinfo=UTC))),
        "fk join": ids(Post.objects.filter(author__name="Bob")),
        "event when equal": ids(Event.objects.filter(when=dt.datetime(2025, 11, 16, 9, 0, tzinfo=UTC))),
        "event when range": ids(Event.objects.filter(when__gt=dt.datetime(2025, 11, 16, 9, 0, tzinfo=UTC))),
        "event length": ids(Event.objects.filter(length__lt=dt.timedelta(minutes=1))),
        "event starts": ids(Event.objects.filter(starts=dt.time(9, 0))),
        "event ref": ids(Event.objects.filter(ref=U[5])),
        "event day": ids(Event.objects.filter(day__lt=dt.date(2000, 1, 1))),
    }
