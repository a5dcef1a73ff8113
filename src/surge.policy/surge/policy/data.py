"""The policy's own relational table, through SQLAlchemy, in Zope's transaction.

The original site kept some data beside the ZODB in PostgreSQL through
SQLAlchemy. Here that is the newsletter sign-ups table. zope.sqlalchemy joins
every SQLAlchemy session to the Zope transaction: a request that fails after
writing a row leaves no row behind, and a committed request commits both.

The database comes from zope.conf, which buildout writes: in production
libpq's own connection string, which lists every database server and asks
for the one that takes writes, so the sign-ups follow the primary after a
failover (and no password needs URL quoting),

    <product-config surge.policy>
        database-dsn dbname=surge user=surge password=... host=db-1,db-2 port=5432,5432 target_session_attrs=read-write
    </product-config>

and in development a URL (``database-url sqlite:///.../var/surge-data.sqlite``).
"""

import datetime
import threading

from App.config import getConfiguration
from sqlalchemy import URL, Column, DateTime, Integer, String, create_engine, func, select
from sqlalchemy.orm import declarative_base, scoped_session, sessionmaker
from zope.sqlalchemy import register

Base = declarative_base()
_lock = threading.Lock()
_sessions = {}


class Signup(Base):
    __tablename__ = "surge_signups"
    id = Column(Integer, primary_key=True)
    email = Column(String(254), nullable=False, unique=True)
    created = Column(DateTime(timezone=True), nullable=False,
                     default=lambda: datetime.datetime.now(datetime.timezone.utc))


class NotConfigured(LookupError):
    """zope.conf has no <product-config surge.policy> database-url or database-dsn."""


def database_url():
    config = (getattr(getConfiguration(), "product_config", None) or {}).get("surge.policy") or {}
    if config.get("database-url"):
        return config["database-url"]
    if config.get("database-dsn"):
        # psycopg2 takes every query argument as a keyword: dsn= is libpq's string, whole.
        return URL.create("postgresql+psycopg2", query={"dsn": config["database-dsn"]})
    raise NotConfigured("zope.conf has no <product-config surge.policy> with database-url or database-dsn")


def session(url=None):
    """A session joined to the current Zope transaction (one engine per URL and process)."""
    url = url or database_url()
    with _lock:
        if url not in _sessions:
            engine = create_engine(url, pool_pre_ping=True)
            Base.metadata.create_all(engine)
            factory = scoped_session(sessionmaker(bind=engine))
            register(factory)
            _sessions[url] = factory
    return _sessions[url]()


def add_signup(email, url=None):
    """Record a sign-up; False when the address is already there."""
    db = session(url)
    if db.scalar(select(Signup.id).where(Signup.email == email)) is not None:
        return False
    db.add(Signup(email=email))
    db.flush()
    return True


def count_signups(url=None):
    return session(url).scalar(select(func.count(Signup.id)))
