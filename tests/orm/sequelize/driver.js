// Drives a Sequelize app for tests/integration/orm.rs, as ../harness.py does for
// the Python ORMs:
//
//   node driver.js setup-sqlite FILE    schema + the rows written before the migration
//   node driver.js setup-pg URL         schema + every row (old and new) in PostgreSQL
//   node driver.js reference FILE       every row written by Sequelize into a fresh SQLite file
//   node driver.js check FILE URL REF   the rolled-back FILE read through Sequelize: every
//                                       object as in PostgreSQL (and as Sequelize itself would
//                                       have stored it, REF), queries with PostgreSQL's answers
//
// `check` prints a JSON summary and exits 1 with the differences when there are any.
//
// What Sequelize cannot hold, so this app never writes it: a DATE is a JavaScript
// Date (milliseconds, years 0 to 9999 here; PostgreSQL keeps microseconds), and
// Sequelize 6 has no interval type and no timestamp without time zone.
'use strict';

const { DataTypes, Op, Sequelize } = require('sequelize');
const sqlite3 = require('sqlite3');

const U = [
  '9e3779b9-7f4a-7c15-0000-000000000001',
  '3c6ef372-fe94-f82a-0000-000000000003',
  'daa66d2c-7ddf-743f-0000-000000000005',
  '78dde6e5-fd29-f054-0000-000000000007',
  '1715609d-7c74-6c69-0000-000000000009',
  'b54cda56-fbbe-e87e-0000-00000000000b',
];

// Old rows: the app wrote them to SQLite before the migration (they are in
// PostgreSQL too). New rows: written to PostgreSQL after it. Times and dates are
// strings in Sequelize; these are written as PostgreSQL prints them back.
const AUTHORS = [
  { id: U[0], name: 'Ada', active: true, born: '0001-01-01',
    joined: new Date('2025-11-13T08:30:00.123Z'), wakes: '06:30:00' },
  { id: U[1], name: 'Bob', active: false, born: '9999-12-31',
    joined: new Date('2000-01-01T00:00:00Z'), wakes: '12:30:15.5' },
  { id: U[2], name: 'Cy', active: true, born: null,
    joined: new Date('0001-01-01T00:00:01Z'), wakes: null },
  { id: U[3], name: 'Dee é', active: false, born: '2024-02-29',
    joined: new Date('9999-12-31T23:59:59.999Z'), wakes: '23:59:59.999999' },
];
const OLD_AUTHORS = 2;
const POSTS = [
  { id: 1, author: 0, title: 'first', price: '12.50', balance: '1234567890123456.1234',
    payload: { k: [1, 2, { x: 'é' }], n: null, tag: 'a' }, blob: Buffer.from([0, 255, 16]),
    published: new Date('2025-11-13T08:30:00Z'), at: '12:30:15.5' },
  { id: 2, author: 1, title: 'second', price: '7.00', balance: '0.1000',
    payload: { tag: 'b', deep: { a: 1 } }, blob: Buffer.alloc(0), published: null, at: '00:00:00' },
  { id: 3, author: 2, title: 'third', price: '-0.01', balance: null, payload: [1, 'two', 3.5],
    blob: null, published: new Date('2025-11-14T00:00:00.001Z'), at: '23:59:59.999999' },
  { id: 4, author: 3, title: 'fourth', price: '99999999.99', balance: '8765432109876543.2109',
    payload: null, blob: Buffer.alloc(40, 'x'),
    published: new Date('2025-11-15T12:00:00.250Z'), at: '08:00:00.000001' },
];
const OLD_POSTS = 1;
const EVENTS = [
  { id: 1, when: new Date('2025-11-16T09:00:00Z'), day: '2025-11-16', starts: '09:00:00',
    ref: U[4], amount: '123456789012.123456', flag: true, data: { tag: 'e', n: 1 } },
  { id: 2, when: new Date('2025-11-16T09:00:00.500Z'), day: '0001-01-01', starts: '09:00:00.0005',
    ref: U[5], amount: '0.000001', flag: false, data: { tag: 'f', n: 2 } },
];
// Columns whose SQLite form Sequelize itself makes lossy (a wide decimal goes
// into NUMERIC affinity and comes back a double): compared exactly with what
// Sequelize stores, and with PostgreSQL as the same double.
const APPROX = new Set(['balance', 'amount']);
const DECIMALS = new Set(['price', 'balance', 'amount']);
// Values Sequelize itself reads back wrong from SQLite, from its own file as from
// the rolled-back one (the stored text is the same, byte for byte): its SQLite
// DATE parser hands "0001-01-01 00:00:01.000 +00:00" to `new Date()`, whose
// non-ISO parsing takes years 0-49 as 2000-2049 (year 1 reads as 2001).
// PostgreSQL's driver reads the year right, so these differ from PostgreSQL.
const SEQUELIZE_MISREADS = new Map([
  [`Author ${U[2]} joined`, 'a DATE before year 100 read from SQLite (new Date() takes year 1 as 2001)'],
]);

function define(sequelize) {
  const Author = sequelize.define('Author', {
    id: { type: DataTypes.UUID, primaryKey: true },
    name: { type: DataTypes.STRING(100), allowNull: false },
    active: { type: DataTypes.BOOLEAN, allowNull: false },
    born: DataTypes.DATEONLY,
    joined: { type: DataTypes.DATE, allowNull: false },
    wakes: DataTypes.TIME,
  }, { timestamps: false });
  const Post = sequelize.define('Post', {
    id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
    title: { type: DataTypes.STRING(200), allowNull: false },
    price: { type: DataTypes.DECIMAL(10, 2), allowNull: false },
    balance: DataTypes.DECIMAL(20, 4),
    payload: DataTypes.JSON,
    blob: DataTypes.BLOB,
    published: DataTypes.DATE,
    at: { type: DataTypes.TIME, allowNull: false },
  }, { timestamps: false });
  Post.belongsTo(Author, { foreignKey: { name: 'authorId', allowNull: false } });
  Author.hasMany(Post, { foreignKey: 'authorId' });
  // Empty in the old SQLite file: its encodings come from the app's style.
  const Event = sequelize.define('Event', {
    id: { type: DataTypes.INTEGER, primaryKey: true },
    when: { type: DataTypes.DATE, allowNull: false },
    day: { type: DataTypes.DATEONLY, allowNull: false },
    starts: { type: DataTypes.TIME, allowNull: false },
    ref: { type: DataTypes.UUID, allowNull: false },
    amount: { type: DataTypes.DECIMAL(18, 6), allowNull: false },
    flag: { type: DataTypes.BOOLEAN, allowNull: false },
    data: DataTypes.JSON,
  }, { timestamps: false });
  return { Author, Post, Event };
}

function connect(kind, where) {
  const options = { logging: false };
  const sequelize = kind === 'sqlite'
    ? new Sequelize({ ...options, dialect: 'sqlite', storage: where })
    : new Sequelize(where, { ...options, dialect: 'postgres' });
  return { sequelize, ...define(sequelize) };
}

async function setup(kind, where, oldOnly) {
  const db = connect(kind, where);
  await db.sequelize.sync();
  // What `sequelize-cli db:migrate` leaves behind.
  await db.sequelize.query(
    'CREATE TABLE "SequelizeMeta" ("name" VARCHAR(255) NOT NULL UNIQUE PRIMARY KEY)');
  await db.sequelize.query(
    `INSERT INTO "SequelizeMeta" ("name") VALUES ('20251101000000-create-app.js')`);
  await db.Author.bulkCreate(AUTHORS.slice(0, oldOnly ? OLD_AUTHORS : AUTHORS.length));
  for (const { author, ...p } of POSTS.slice(0, oldOnly ? OLD_POSTS : POSTS.length)) {
    await db.Post.create({ ...p, authorId: AUTHORS[author].id });
  }
  if (!oldOnly) {
    await db.Event.bulkCreate(EVENTS);
  }
  if (kind === 'postgres') {
    // The ids were given: move the sequence on as a real app's would have.
    await db.sequelize.query(`SELECT setval('"Posts_id_seq"', (SELECT max(id) FROM "Posts"))`);
  }
  await db.sequelize.close();
}

// A decimal as its shortest exact text: PostgreSQL's "12.50", SQLite's 12.5.
function decimal(v) {
  if (v === null) return null;
  let s = String(v);
  if (/e/i.test(s)) s = Number(v).toFixed(20);
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return s === '-0' ? '0' : s;
}

function normalize(col, v) {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return `hex:${v.toString('hex')}`;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString();
  if (APPROX.has(col)) return String(Number(v));
  if (DECIMALS.has(col)) return decimal(v);
  if (typeof v === 'object') return JSON.stringify(v);
  return v;
}

async function read(kind, where) {
  const db = connect(kind, where);
  const out = {};
  for (const model of [db.Author, db.Post, db.Event]) {
    const rows = await model.findAll({ order: [['id', 'ASC']] });
    out[model.name] = {};
    for (const row of rows) {
      const plain = row.get({ plain: true });
      out[model.name][String(plain.id)] = Object.fromEntries(
        Object.entries(plain).map(([c, v]) => [c, normalize(c, v)]));
    }
  }
  const ids = async (model, where, extra = {}) =>
    (await model.findAll({ where, attributes: ['id'], ...extra })).map((r) => String(r.id)).sort();
  const { Author, Post, Event } = db;
  const queries = {
    'joined range': await ids(Author, { joined: { [Op.gte]: new Date('2000-01-01T00:00:00Z') } }),
    'joined equal': await ids(Author, { joined: new Date('2000-01-01T00:00:00Z') }),
    'joined millis equal': await ids(Author, { joined: new Date('2025-11-13T08:30:00.123Z') }),
    'joined year 1': await ids(Author, { joined: { [Op.lt]: new Date('1970-01-01T00:00:00Z') } }),
    'born range': await ids(Author, { born: { [Op.lt]: '2000-01-01' } }),
    'born equal': await ids(Author, { born: '9999-12-31' }),
    'born null': await ids(Author, { born: null }),
    active: await ids(Author, { active: true }),
    inactive: await ids(Author, { active: false }),
    'wakes equal': await ids(Author, { wakes: '12:30:15.5' }),
    'wakes range': await ids(Author, { wakes: { [Op.gt]: '12:00:00' } }),
    'uuid equal': await ids(Author, { id: U[1] }),
    'uuid in': await ids(Author, { id: { [Op.in]: [U[0], U[3]] } }),
    'name like': await ids(Author, { name: { [Op.like]: 'Dee%' } }),
    'at equal': await ids(Post, { at: '12:30:15.5' }),
    'at midnight': await ids(Post, { at: '00:00:00' }),
    'at range': await ids(Post, { at: { [Op.lt]: '09:00:00' } }),
    'price range': await ids(Post, { price: { [Op.gte]: 7 } }),
    'price equal': await ids(Post, { price: 12.5 }),
    'price negative': await ids(Post, { price: { [Op.lt]: 0 } }),
    'balance range': await ids(Post, { balance: { [Op.gt]: 1 } }),
    'json key': await ids(Post, { payload: { tag: 'a' } }),
    'json nested': await ids(Post, { payload: { deep: { a: 1 } } }),
    'json null': await ids(Post, { payload: null }),
    'blob null': await ids(Post, { blob: null }),
    'published equal': await ids(Post, { published: new Date('2025-11-13T08:30:00Z') }),
    'published range': await ids(Post, { published: { [Op.gt]: new Date('2025-11-13T08:30:00Z') } }),
    'published millis': await ids(Post, { published: new Date('2025-11-14T00:00:00.001Z') }),
    'fk join': await ids(Post, { '$Author.active$': true }, { include: [{ model: Author, attributes: [] }] }),
    'fk equal': await ids(Post, { authorId: U[3] }),
    'event when equal': await ids(Event, { when: new Date('2025-11-16T09:00:00Z') }),
    'event when range': await ids(Event, { when: { [Op.gt]: new Date('2025-11-16T09:00:00Z') } }),
    'event starts': await ids(Event, { starts: '09:00:00' }),
    'event ref': await ids(Event, { ref: U[5] }),
    'event day': await ids(Event, { day: { [Op.lt]: '2000-01-01' } }),
    'event flag': await ids(Event, { flag: true }),
    'event amount': await ids(Event, { amount: { [Op.lt]: 1 } }),
    'event json key': await ids(Event, { data: { tag: 'f' } }),
    'event json number': await ids(Event, { data: { n: { [Op.gt]: 1 } } }),
  };
  await db.sequelize.close();
  return { objects: out, queries };
}

// Every stored value with its SQLite type: Sequelize's own encodings, byte for byte.
function rawRows(path) {
  return new Promise((resolve, reject) => {
    const con = new sqlite3.Database(path, sqlite3.OPEN_READONLY);
    const out = {};
    con.all(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'
             AND name NOT LIKE '\\_pg2sqlite%' ESCAPE '\\' ORDER BY name`, async (err, tables) => {
      if (err) return reject(err);
      try {
        for (const { name } of tables) {
          const cols = await new Promise((res, rej) =>
            con.all(`PRAGMA table_info("${name}")`, (e, r) => (e ? rej(e) : res(r))));
          const sel = cols.map(({ name: c }) =>
            `typeof("${c}") || ':' || CASE typeof("${c}") WHEN 'text' THEN "${c}" ELSE quote("${c}") END`)
            .join(` || ' | ' || `);
          const rows = await new Promise((res, rej) =>
            con.all(`SELECT ${sel} AS r FROM "${name}"`, (e, r) => (e ? rej(e) : res(r))));
          out[name] = rows.map((r) => r.r).sort();
        }
        con.close();
        resolve(out);
      } catch (e) {
        reject(e);
      }
    });
  });
}

async function check(path, url, ref) {
  const problems = [];
  const misreads = [];
  const mine = await read('sqlite', path);
  const theirs = await read('postgres', url);
  const own = await read('sqlite', ref);
  for (const [model, pgRows] of Object.entries(theirs.objects)) {
    const got = mine.objects[model];
    const want = own.objects[model];
    const keys = (o) => JSON.stringify(Object.keys(o).sort());
    if (keys(got) !== keys(pgRows)) {
      problems.push(`${model}: keys ${keys(got)} in SQLite, ${keys(pgRows)} in PostgreSQL`);
      continue;
    }
    for (const [key, row] of Object.entries(got)) {
      for (const [col, v] of Object.entries(row)) {
        const p = pgRows[key][col];
        const r = want[key][col];
        if (v !== r) {
          problems.push(`${model} ${key} ${col}: rolled back ${JSON.stringify(v)}, Sequelize stores ${JSON.stringify(r)}`);
        }
        const known = SEQUELIZE_MISREADS.get(`${model} ${key} ${col}`);
        if (v !== p && known && v === r) {
          misreads.push(`${model} ${key} ${col}: ${known}: SQLite ${JSON.stringify(v)}, PostgreSQL ${JSON.stringify(p)}`);
        } else if (v !== p) {
          problems.push(`${model} ${key} ${col}: SQLite ${JSON.stringify(v)}, PostgreSQL ${JSON.stringify(p)}`);
        }
      }
    }
  }
  for (const [q, a] of Object.entries(theirs.queries)) {
    const b = mine.queries[q];
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      problems.push(`query ${q}: SQLite ${JSON.stringify(b)}, PostgreSQL ${JSON.stringify(a)}`);
    }
  }
  const got = await rawRows(path);
  const want = await rawRows(ref);
  for (const [table, rows] of Object.entries(want)) {
    const g = got[table] || [];
    const diff = rows.map((w, i) => [g[i], w]).filter(([a, b]) => a !== b).slice(0, 2);
    if (diff.length || g.length !== rows.length) {
      problems.push(`stored form of ${table} differs from Sequelize's own (rolled back, Sequelize): `
        + JSON.stringify(diff.length ? diff : [g.length, rows.length]));
    }
  }
  if (misreads.length !== SEQUELIZE_MISREADS.size) {
    problems.push(`Sequelize's known misreads changed (fixed upstream? then drop them): ${JSON.stringify(misreads)}`);
  }
  const objects = Object.values(mine.objects).reduce((n, rows) => n + Object.keys(rows).length, 0);
  console.log(JSON.stringify({ objects, queries: Object.keys(mine.queries).length, misreads, problems }));
  if (problems.length) {
    console.error(problems.join('\n'));
    process.exitCode = 1;
  }
}

async function main() {
  const [cmd, ...args] = process.argv.slice(2);
  if (cmd === 'setup-sqlite') await setup('sqlite', args[0], true);
  else if (cmd === 'setup-pg') await setup('postgres', args[0], false);
  else if (cmd === 'reference') await setup('sqlite', args[0], false);
  else if (cmd === 'dump') console.log(JSON.stringify(await read(args[0], args[1]), null, 1));
  else if (cmd === 'check') await check(...args);
  else throw new Error(`unknown command ${cmd}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
