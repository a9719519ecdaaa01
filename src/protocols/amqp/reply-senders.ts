import type { Message, Sender, Session } from 'rhea';

/** Replies one client may leave waiting for credit before its reply link is closed as stuck. */
const MAX_BACKLOG = 100;

/**
 * Our senders that carry replies of one request/response node (`$cbs` or `$management`) on a connection. A request
 * names its reply link by `reply-to`: core-amqp uses the receiver link's name (also its target address), the Node
 * IoT SDKs write `cbs` and attach a receiver with no target, so the fallbacks are the same session, then any.
 */
export class ReplySenders {
  private readonly backlogs = new Map<Sender, Message[]>();

  add(sender: Sender): void {
    this.backlogs.set(sender, []);
  }

  remove(sender: Sender): void {
    this.backlogs.delete(sender);
  }

  has(sender: Sender): boolean {
    return this.backlogs.has(sender);
  }

  /** Among equally good candidates the most recently attached wins. */
  find(replyTo: string | undefined, session: Session): Sender | undefined {
    const open = [...this.backlogs.keys()].filter((s) => !s.is_closed()).reverse();
    const named = replyTo === undefined ? [] : open.filter((s) => s.name === replyTo || s.target?.address === replyTo);
    const candidates = named.length > 0 ? named : open;
    return candidates.find((s) => s.session === session) ?? candidates[0];
  }

  /** Sends within the client's credit, keeping what does not fit until it grants more. */
  send(sender: Sender, message: Message): void {
    const backlog = this.backlogs.get(sender);
    if (!backlog) return;
    backlog.push(message);
    this.flush(sender);
  }

  /** Call when the sender may have credit again (rhea's `sendable`). */
  flush(sender: Sender): void {
    const backlog = this.backlogs.get(sender);
    if (!backlog) return;
    while (backlog.length > 0 && sender.sendable()) sender.send(backlog.shift()!);
    if (backlog.length > MAX_BACKLOG) {
      this.backlogs.delete(sender);
      sender.close({ condition: 'amqp:resource-limit-exceeded', description: `more than ${MAX_BACKLOG} replies are waiting for link credit` });
    }
  }
}
