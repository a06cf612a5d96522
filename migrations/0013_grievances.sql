-- Grievances (lib/grievances): reports by citizens or customers, their attachments, the AI's
-- classification, the officers who work through them, and the tasks started for them. The
-- status, priority, channel, task and history vocabularies are the ones in
-- lib/grievances/model.ts (a test compares them with these CHECKs).
--
-- Personal data and every free text written by or about a complainant is stored sealed
-- (AES-256-GCM under ENCRYPTION_KEY, `v1.<iv>.<ciphertext>`, bound to the row and column) with
-- the id of the key that sealed it (`key_id`, for rotation). Exact phone and e-mail searches go
-- through keyed blind indexes (HMAC-SHA256 of the normalised value under a key derived from
-- ENCRYPTION_KEY by HKDF). What stays clear is vocabulary, ids, numbers and times.

-- Officers work through grievances; admins grant the role.
alter table users drop constraint users_role_check;
alter table users add constraint users_role_check check (role in ('user', 'admin', 'officer'));

-- The taxonomy the AI classifies into; admins edit it (a slug is never reused for another
-- meaning: deactivate a category rather than delete one grievances refer to).
create table grievance_categories (
  id uuid primary key default gen_random_uuid(),
  slug text not null unique check (slug ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
  name text not null,
  description text not null default '',
  active boolean not null default true,
  position integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
insert into grievance_categories (slug, name, description, position) values
  ('water', 'Water and sanitation', 'No water, burst pipes, sewage, dirty water', 1),
  ('roads', 'Roads and transport', 'Potholes, broken bridges, street lights, public transport', 2),
  ('health', 'Health', 'Clinics, hospitals, medicines, disease outbreaks', 3),
  ('electricity', 'Electricity', 'Power cuts, faulty lines, billing', 4),
  ('waste', 'Waste and environment', 'Uncollected refuse, dumping, pollution', 5),
  ('education', 'Education', 'Schools, teachers, fees', 6),
  ('corruption', 'Corruption and misconduct', 'Bribes, abuse of office, fraud by officials', 7),
  ('service', 'Service and billing', 'A product or service not delivered, wrong charges', 8),
  ('other', 'Other', 'Anything that fits no other category', 99);

-- Areas grievances belong to (coarse: a town or district, never an address), with an optional
-- centre so a shared WhatsApp location finds its nearest area. Officers may be limited to some.
create table grievance_areas (
  id uuid primary key default gen_random_uuid(),
  name text not null unique,
  latitude double precision check (latitude between -90 and 90),
  longitude double precision check (longitude between -180 and 180),
  created_at timestamptz not null default now(),
  check ((latitude is null) = (longitude is null))
);

-- An officer with rows here sees the grievances of these areas only; without rows, all.
create table grievance_officer_areas (
  user_id uuid not null references users (id) on delete cascade,
  area_id uuid not null references grievance_areas (id) on delete cascade,
  primary key (user_id, area_id)
);

-- How long each priority may stay open (the SLA clock); admins edit the hours.
create table grievance_priorities (
  priority text primary key check (priority in ('low', 'normal', 'high', 'urgent')),
  sla_hours integer not null check (sla_hours between 1 and 8760)
);
insert into grievance_priorities (priority, sla_hours) values
  ('urgent', 24), ('high', 72), ('normal', 168), ('low', 336);

-- One counter per year: references are GRV-<year>-<5 digits>, in order, never reused.
create table grievance_sequences (
  year integer primary key,
  last integer not null
);

create table grievances (
  id uuid primary key,
  reference text not null unique,
  channel text not null check (channel in ('web', 'api', 'whatsapp')),
  status text not null default 'submitted'
    check (status in ('submitted', 'classified', 'in_review', 'resolved', 'rejected')),
  priority text not null default 'normal'
    check (priority in ('low', 'normal', 'high', 'urgent')),
  area_id uuid references grievance_areas (id) on delete set null,
  -- The signed-in account that submitted it (web or API), if any.
  submitted_by uuid references users (id) on delete set null,
  -- Makes a submission idempotent (the WhatsApp message that confirmed it, an Idempotency-Key).
  intake_key text unique,
  key_id text not null,
  name_sealed text,
  phone_sealed text,
  email_sealed text,
  address_sealed text,
  description_sealed text not null,
  phone_index text,
  email_index text,
  -- What the AI made of it: the description's language (ISO 639-1), an English summary and
  -- translation, the summary in the complainant's language; sealed like the description.
  language text,
  summary_sealed text,
  translation_sealed text,
  local_summary_sealed text,
  confidence real check (confidence between 0 and 1),
  ai_status text not null default 'pending'
    check (ai_status in ('pending', 'running', 'retrying', 'done', 'failed')),
  ai_error text,
  assigned_to uuid references users (id) on delete set null,
  assigned_at timestamptz,
  answer_sealed text,
  answered_by uuid references users (id) on delete set null,
  answered_at timestamptz,
  first_response_at timestamptz,
  classified_at timestamptz,
  resolved_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index grievances_created on grievances (created_at desc);
create index grievances_status on grievances (status, created_at desc);
create index grievances_phone_index on grievances (phone_index) where phone_index is not null;
create index grievances_email_index on grievances (email_index) where email_index is not null;
create index grievances_assigned on grievances (assigned_to) where assigned_to is not null;
create index grievances_area on grievances (area_id);

create table grievance_category_links (
  grievance_id uuid not null references grievances (id) on delete cascade,
  category_id uuid not null references grievance_categories (id) on delete cascade,
  confidence real not null check (confidence between 0 and 1),
  primary key (grievance_id, category_id)
);
create index grievance_category_links_category on grievance_category_links (category_id);

-- Attachments: the bytes live in the file store (UPLOADS_DIR/<grievance>/<id>.<ext>), checked
-- by their content; the name the complainant gave and any transcript are sealed.
create table grievance_attachments (
  id uuid primary key,
  grievance_id uuid not null references grievances (id) on delete cascade,
  kind text not null check (kind in ('image', 'document', 'audio')),
  mime_type text not null,
  size_bytes integer not null check (size_bytes > 0),
  storage_key text not null,
  thumbnail_key text,
  key_id text not null,
  filename_sealed text,
  transcript_sealed text,
  created_at timestamptz not null default now()
);
create index grievance_attachments_grievance on grievance_attachments (grievance_id);

-- Everything that happened to a grievance, in order: who (null: the system), when, what, and
-- the officer's note (sealed).
create table grievance_history (
  id bigint generated always as identity primary key,
  grievance_id uuid not null references grievances (id) on delete cascade,
  action text not null check (action in (
    'submitted', 'classified', 'classification_failed', 'status', 'assigned', 'answered',
    'priority', 'retried'
  )),
  from_status text,
  to_status text,
  actor_id uuid references users (id) on delete set null,
  detail text,
  key_id text,
  note_sealed text,
  created_at timestamptz not null default now()
);
create index grievance_history_grievance on grievance_history (grievance_id, id);

-- Background work started for a grievance: what `GET /api/v1/tasks/{id}` shows. The job only
-- carries the task's id; `next_attempt_at` is when its job is due (queued: at once or after the
-- backoff; running: when the worker's claim runs out), which the reconciler reads to find work
-- whose job was lost.
create table grievance_tasks (
  id uuid primary key default gen_random_uuid(),
  grievance_id uuid not null references grievances (id) on delete cascade,
  kind text not null check (kind in ('classify', 'thumbnail')),
  -- The attachment a thumbnail task works on.
  attachment_id uuid references grievance_attachments (id) on delete cascade,
  status text not null default 'queued'
    check (status in ('queued', 'running', 'succeeded', 'failed')),
  attempts integer not null default 0,
  error text,
  next_attempt_at timestamptz,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz,
  updated_at timestamptz not null default now()
);
create index grievance_tasks_grievance on grievance_tasks (grievance_id, created_at);
create index grievance_tasks_due on grievance_tasks (next_attempt_at)
  where status in ('queued', 'running');

-- A new grievance is a product event an admin may route to a notification topic.
alter table notification_event_routes drop constraint notification_event_routes_event_check;
alter table notification_event_routes add constraint notification_event_routes_event_check
  check (event in (
    'payment.paid', 'payment.failed', 'payment.expired', 'job.dead_lettered',
    'ai.upstream_down', 'ai.upstream_recovered', 'webhook.signature_spike', 'account.signed_up',
    'grievance.created'
  ));
