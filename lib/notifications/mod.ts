/**
 * Notifications on every channel: operators name a topic once ("payment failed"), attach the
 * channels that should hear it (e-mail, Slack, Telegram, WhatsApp, signed webhooks), and publish
 * to it from code, from outside (`POST /api/v1/topics/{name}/publish`) or by routing one of the
 * product's events to it. Every delivery is retried on the notifications lane and logged.
 *
 * Operations that queue work take the enqueuer as an argument (the route's, or the job's
 * context): the job queue is built with the handlers, and the handlers need this module, so it
 * never holds the queue and the wiring stays a straight line.
 *
 * @example
 * const notifications = createNotifications({ db, log, config, mailer, slack, telegram, whatsapp });
 * await notifications.publish(queue, "payment failed", { text: "**HK12** failed" });
 */
import type { HubEvent } from "../events.ts";
import type { Enqueuer, JobMeta } from "../jobs/types.ts";
import {
  type ChannelInput,
  createChannel,
  deleteChannel,
  getChannel,
  listChannels,
  testChannel,
  updateChannel,
} from "./channels.ts";
import type { NotificationsDeps } from "./deps.ts";
import { deliver, overdueDeliveries } from "./deliver.ts";
import { createEventReactor, listEventRoutes, setEventRoute, watchProduct } from "./events.ts";
import { channelStats, type DeliverySearch, getDelivery, searchDeliveries } from "./log.ts";
import type { Message } from "./model.ts";
import { publish, type PublishOptions } from "./publish.ts";
import {
  createTopic,
  deleteTopic,
  getTopicById,
  getTopicByName,
  listTopics,
  type TopicInput,
  updateTopic,
} from "./topics.ts";

export type { NotificationsDeps };

export function createNotifications(deps: NotificationsDeps) {
  const reactor = createEventReactor(deps);
  return {
    channels: {
      list: () => listChannels(deps),
      get: (id: string) => getChannel(deps, id),
      create: (input: ChannelInput) => createChannel(deps, input),
      update: (id: string, input: ChannelInput) => updateChannel(deps, id, input),
      delete: (id: string) => deleteChannel(deps, id),
      /** Sends a test message now and reports the upstream's answer. */
      test: (jobs: Enqueuer, id: string) => testChannel(deps, jobs, id),
    },
    topics: {
      list: () => listTopics(deps),
      get: (id: string) => getTopicById(deps, id),
      byName: (name: string) => getTopicByName(deps, name),
      create: (input: TopicInput) => createTopic(deps, input),
      update: (id: string, input: TopicInput) => updateTopic(deps, id, input),
      delete: (id: string) => deleteTopic(deps, id),
    },
    /** Records one delivery per channel of `topic` and queues each. */
    publish: (jobs: Enqueuer, topic: string, message: Message, options?: PublishOptions) =>
      publish(deps, jobs, topic, message, options),
    deliveries: {
      search: (search: DeliverySearch) => searchDeliveries(deps, search),
      get: (id: string) => getDelivery(deps, id),
      stats: (days?: number) => channelStats(deps, days),
    },
    events: {
      routes: () => listEventRoutes(deps),
      async route(event: string, topicId: string | null) {
        await setEventRoute(deps, event, topicId);
        reactor.invalidateRoutes();
      },
      /** Observes the event hub (main.ts): publishes what an admin routed. */
      react: (jobs: Enqueuer, event: HubEvent) => reactor.react(jobs, event),
    },
    /** The `notifications.deliver` job. */
    deliver: (jobs: Enqueuer, deliveryId: string, meta: Pick<JobMeta, "attempt">) =>
      deliver(deps, jobs, deliveryId, meta),
    /** The job's reconciler: deliveries whose job was lost. */
    overdue: () => overdueDeliveries(deps),
    /** The `notifications.watch` schedule. */
    watch: (jobs: Enqueuer) => watchProduct(deps, jobs),
  };
}

export type Notifications = ReturnType<typeof createNotifications>;
