-- A history row's statuses are a grievance's statuses (lib/grievances/model.ts, STATUSES), as
-- every other vocabulary column is checked; null where the action moves no status.
alter table grievance_history
  add constraint grievance_history_from_status
    check (from_status in ('submitted', 'classified', 'in_review', 'resolved', 'rejected')),
  add constraint grievance_history_to_status
    check (to_status in ('submitted', 'classified', 'in_review', 'resolved', 'rejected'));
