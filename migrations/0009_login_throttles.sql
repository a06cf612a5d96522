-- Password guessing, slowed per account (lib/accounts/login_throttle.ts): the consecutive failed
-- log-ins for an e-mail, whether or not an account uses it (so an unknown address is answered
-- exactly like a real one). Keyed by the SHA-256 of the normalised e-mail: the table holds no
-- address. Kept in Postgres so that every instance sees the same count.
create table login_throttles (
  email_hash text primary key,
  -- Attempts counted since the last success (each counted before its password is checked).
  failures integer not null check (failures > 0),
  -- Log-ins for this e-mail are refused until then, without checking the password.
  blocked_until timestamptz,
  last_attempt_at timestamptz not null
);

-- The clean-up removes rows whose last attempt is long past.
create index login_throttles_last_attempt_idx on login_throttles (last_attempt_at);
