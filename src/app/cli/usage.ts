// The CLI's help texts, apart from the commands so that printing help loads nothing heavy.
export const START_USAGE = `lazuli start [--data-dir DIR] [--name HUB] [--hostname NAME] [--bind ADDRESS]
             [--mqtt-port 8883] [--amqp-port 5671] [--https-port 443] [--partitions 4]
             [--log-level info] [--tls-cert FILE --tls-key FILE] [--max-message-bytes 262144]
             [--retention-hours 24] [--retention-mb-per-partition 1024]
             [--c2d-max-queue-depth 50] [--c2d-max-message-bytes 65536] [--c2d-ttl-seconds 3600]
             [--c2d-max-delivery-count 10] [--c2d-lock-seconds 60] [--feedback-interval-seconds 15]
             [--store postgres://USER@HOST:PORT/DB[?schema=NAME]] [--log nats://HOST:PORT] [--bus nats://HOST:PORT]
             [--presence-lease-seconds 30]
  Runs the hub in the foreground. --store and --log put state in PostgreSQL and telemetry in NATS JetStream so that
  several nodes started with copies of one data dir serve one hub (--bus follows --log). A node that dies without
  a goodbye counts as holding its devices' connections until its presence lease runs out. Each flag may also be given as LAZULI_<FLAG> (LAZULI_DATA_DIR, LAZULI_HOSTNAME, ...).
  Ready when GET https://HOST:HTTPS_PORT/health answers 200.`;

export const CONNECTION_STRING_USAGE = `lazuli connection-string [--data-dir DIR] [--policy NAME] [--eventhub] [--device ID [--module ID]]
  Prints a connection string read from the data dir (no running hub needed):
  the service one (policy iothubowner by default), the Event Hub-compatible one with --eventhub,
  or a device's (or module's) with --device.`;

export const DEVICE_USAGE = `lazuli device create ID [--status enabled|disabled] [--primary-key K --secondary-key K] [--edge]
lazuli device list [--top N]
lazuli device show ID
lazuli device update ID [--status enabled|disabled] [--status-reason TEXT] [--primary-key K --secondary-key K]
lazuli device delete ID
lazuli device connection-string ID
  Talk to the running hub of --data-dir (default .lazuli) over its REST API as iothubowner.
  Tables for people; --json for scripts.`;

export const SEND_USAGE = `lazuli send --device ID [--protocol mqtt|amqp|https] [--count N] [--interval MS] [--property k=v ...] [BODY]
  Sends telemetry as a registered device to the running hub of --data-dir; {n} in BODY becomes the message number.`;

export const MONITOR_USAGE = `lazuli monitor [--device ID] [--consumer-group G] [--properties] [--from start|end|TIME] [--json] [--count N]
  Tails telemetry through the Event Hub-compatible endpoint, like az iot hub monitor-events: a line per event.`;

export const CONSUMER_GROUP_USAGE = `lazuli consumer-group create NAME
lazuli consumer-group list
lazuli consumer-group delete NAME
  Manage the Event Hub-compatible endpoint's consumer groups on the running hub of --data-dir (default .lazuli).
  $Default always exists. Names: 1-50 letters, digits, periods, hyphens and underscores. --json for scripts.`;

export const C2D_USAGE = `lazuli c2d send --device ID [--module MID] [--ack none|positive|negative|full] [--property k=v ...]
               [--message-id ID] [--correlation-id ID] [--content-type T] [--expiry-seconds N] BODY
lazuli c2d feedback [--json] [--count N]
lazuli c2d purge --device ID [--module MID] [--json]
  Cloud-to-device messaging as a back end (policy iothubowner, else service) on the running hub of --data-dir,
  like az iot device c2d-message. send prints the message id once the hub has queued the message (a new UUID
  unless --message-id). feedback prints a line per feedback record (JSON with --json) and accepts each feedback
  message once all its records are printed; it stops after --count records, else on Ctrl-C.
  purge empties the queue and prints how many messages it held.`;

export const METHOD_USAGE = `lazuli method invoke ID METHOD [--module MID] [--payload JSON] [--timeout 30] [--connect-timeout 0]
  Calls a direct method on a device (or module) of the running hub of --data-dir, like az iot hub
  invoke-device-method, and prints {"status", "payload"} as the device answered. --timeout: seconds to wait for the
  answer (5-300); --connect-timeout: seconds to wait for the device to connect (0-300).`;

export const TWIN_USAGE = `lazuli twin show ID [--module MID] [--json]
lazuli twin update-desired ID [--module MID] JSON [--etag E] [--json]
lazuli twin tags ID [--module MID] JSON [--etag E] [--json]
  Device (or module) twins as a back end on the running hub of --data-dir, like az iot hub device-twin.
  show prints the twin as indented JSON (one line with --json). update-desired merges JSON into the desired
  properties and prints their new $version; tags merges JSON into the tags and prints them. A null removes a key.
  --etag E (as show prints it) refuses the change if the twin changed since; --json prints the whole new twin.`;

export const QUERY_USAGE = `lazuli query 'SELECT ...' [--page-size N] [--json]
  Runs an IoT Hub query (SELECT * FROM devices WHERE tags.site = 'x', FROM devices.modules, COUNT() ...) on the
  running hub of --data-dir, fetching every page (N results a request, 100 by default), and prints a JSON line per
  result; --json prints one JSON array instead.`;
