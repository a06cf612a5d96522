/**
 * Topics: a unique name ("payment failed"), a description, and any number of channels. The name
 * is how code and the API publish (`POST /api/v1/topics/{name}/publish`), so it is kept to
 * letters, digits, spaces and `. _ : -`.
 */
import { z } from "zod";
import { AppError } from "../errors.ts";
import { textField, UNSTORABLE_TEXT } from "../text.ts";
import type { NotificationsDeps } from "./deps.ts";
import { isUuid, type Topic, type TopicRow, toTopic, withUniqueName } from "./model.ts";

export const TopicName = textField().trim().min(1).max(100).regex(
  /^[\p{L}\p{N}][\p{L}\p{N} ._:-]*$/u,
  "letters, digits, spaces and . _ : - (starting with a letter or digit)",
);

export interface TopicInput {
  name: string;
  description?: string;
  channelIds: string[];
}

const TopicSchema = z.object({
  name: TopicName,
  description: textField().trim().max(500).default(""),
  channelIds: z.array(z.uuid()).max(50).default([]),
});

async function validateTopic(
  deps: NotificationsDeps,
  input: TopicInput,
): Promise<z.output<typeof TopicSchema>> {
  const parsed = TopicSchema.safeParse(input);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => ({
    field: i.path.map(String).join(".") || "body",
    message: i.message,
  }));
  const unstorable = problems.find((p) => p.message === UNSTORABLE_TEXT);
  if (unstorable) {
    throw new AppError("validation_failed", `${unstorable.field}: ${UNSTORABLE_TEXT}.`, {
      field: unstorable.field,
    });
  }
  if (parsed.success) {
    const ids = [...new Set(parsed.data.channelIds)];
    const found = new Set(
      (await deps.db.sql<{ id: string }[]>`
        select id from notification_channels where id = any(${ids}::uuid[])`).map((r) => r.id),
    );
    parsed.data.channelIds.forEach((id, i) => {
      if (!found.has(id)) problems.push({ field: `channelIds.${i}`, message: "no such channel" });
    });
  }
  if (problems.length > 0) {
    throw new AppError(
      "unprocessable",
      problems.map((p) => `${p.field}: ${p.message}`).join("; "),
      { issues: problems },
    );
  }
  return { ...parsed.data!, channelIds: [...new Set(parsed.data!.channelIds)] };
}

const SELECT = `select t.*, coalesce(
    (select array_agg(tc.channel_id order by tc.channel_id) from notification_topic_channels tc
     where tc.topic_id = t.id), '{}') as channel_ids
  from notification_topics t`;

export async function createTopic(deps: NotificationsDeps, input: TopicInput): Promise<Topic> {
  const v = await validateTopic(deps, input);
  return await withUniqueName("A topic", v.name, async () => {
    const id = await deps.db.sql.begin(async (tx) => {
      const [row] = await tx<{ id: string }[]>`
        insert into notification_topics (name, description)
        values (${v.name}, ${v.description}) returning id`;
      if (v.channelIds.length > 0) {
        await tx`insert into notification_topic_channels (topic_id, channel_id)
                 select ${row.id}, unnest(${v.channelIds}::uuid[])`;
      }
      return row.id;
    });
    return (await getTopicById(deps, id))!;
  });
}

export async function updateTopic(
  deps: NotificationsDeps,
  id: string,
  input: TopicInput,
): Promise<Topic> {
  if (!isUuid(id)) throw new AppError("not_found", "This topic does not exist.");
  const v = await validateTopic(deps, input);
  return await withUniqueName("A topic", v.name, async () => {
    const found = await deps.db.sql.begin(async (tx) => {
      const rows = await tx`update notification_topics
                            set name = ${v.name}, description = ${v.description}, updated_at = now()
                            where id = ${id} returning id`;
      if (rows.length === 0) return false;
      await tx`delete from notification_topic_channels where topic_id = ${id}`;
      if (v.channelIds.length > 0) {
        await tx`insert into notification_topic_channels (topic_id, channel_id)
                 select ${id}, unnest(${v.channelIds}::uuid[])`;
      }
      return true;
    });
    if (!found) throw new AppError("not_found", "This topic does not exist.");
    return (await getTopicById(deps, id))!;
  });
}

export async function getTopicById(deps: NotificationsDeps, id: string): Promise<Topic | null> {
  if (!isUuid(id)) return null;
  const [row] = await deps.db.sql.unsafe<TopicRow[]>(`${SELECT} where t.id = $1`, [id]);
  return row ? toTopic(row) : null;
}

export async function getTopicByName(deps: NotificationsDeps, name: string): Promise<Topic | null> {
  const [row] = await deps.db.sql.unsafe<TopicRow[]>(`${SELECT} where t.name = $1`, [name]);
  return row ? toTopic(row) : null;
}

export async function listTopics(deps: NotificationsDeps): Promise<Topic[]> {
  const rows = await deps.db.sql.unsafe<TopicRow[]>(`${SELECT} order by t.name`);
  return rows.map(toTopic);
}

/** Deletes the topic; what was published to it stays in the log under its name. */
export async function deleteTopic(deps: NotificationsDeps, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const rows = await deps.db.sql`delete from notification_topics where id = ${id} returning id`;
  return rows.length === 1;
}
