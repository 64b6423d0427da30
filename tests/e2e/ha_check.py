#!/usr/bin/env python3
"""Checks Home Assistant MQTT discovery configs against the schema outpostd
documents (docs/ALERTING.md "Home Assistant"), from Home Assistant's MQTT
discovery documentation.

Input on stdin: lines "RETAIN<TAB>TOPIC<TAB>PAYLOAD" as
`mosquitto_sub -F '%r\t%t\t%p'` prints them. Arguments: PREFIX GATEWAY
STATUS_TOPIC OBJECT... (the object ids expected, no more, no fewer).
Exits 1 with the reasons on stderr.
"""
import json
import re
import sys

SENSOR_NUMERIC = {"queued", "sent_today", "failed_today", "cost_today"}


def main():
    prefix, gw, status_topic = sys.argv[1:4]
    want = set(sys.argv[4:])
    errors, seen, uids = [], {}, {}
    topic_re = re.compile(r"^%s/(sensor|binary_sensor)/outpost_%s/([A-Za-z0-9_-]+)/config$"
                          % (re.escape(prefix), re.escape(gw)))
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line:
            continue
        retain, topic, payload = (line.split("\t", 2) + ["", ""])[:3]
        m = topic_re.match(topic)
        if not m:
            errors.append("unexpected topic %s" % topic)
            continue
        component, obj = m.groups()
        if retain != "1":
            errors.append("%s is not retained" % topic)
        try:
            c = json.loads(payload)
        except ValueError as e:
            errors.append("%s: not JSON (%s): %.80s" % (topic, e, payload))
            continue
        if not isinstance(c, dict):
            errors.append("%s: not a JSON object" % topic)
            continue
        seen[obj] = (component, c)
        for key in ("name", "unique_id", "state_topic", "availability_topic",
                    "payload_available", "payload_not_available", "device"):
            if key not in c:
                errors.append("%s: no %s" % (topic, key))
        if "availability" in c and "availability_topic" in c:
            errors.append("%s: availability and availability_topic together" % topic)
        if c.get("availability_topic") != status_topic:
            errors.append("%s: availability_topic %r, want the will topic %s"
                          % (topic, c.get("availability_topic"), status_topic))
        if (c.get("payload_available"), c.get("payload_not_available")) != ("online", "offline"):
            errors.append("%s: availability payloads %r/%r, want online/offline"
                          % (topic, c.get("payload_available"), c.get("payload_not_available")))
        d = c.get("device", {})
        ids = d.get("identifiers") if isinstance(d, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
            errors.append("%s: device.identifiers %r" % (topic, ids))
        for key in ("name", "manufacturer", "model", "sw_version"):
            if not isinstance(d, dict) or not isinstance(d.get(key), str) or not d.get(key):
                errors.append("%s: device.%s missing" % (topic, key))
        uid = c.get("unique_id")
        if uid in uids:
            errors.append("%s: unique_id %s also on %s" % (topic, uid, uids[uid]))
        uids[uid] = topic
        if component == "sensor" and obj in SENSOR_NUMERIC:
            if "state_class" not in c:
                errors.append("%s: a numeric sensor without state_class" % topic)
        if component == "binary_sensor" and not ("payload_on" in c and "payload_off" in c):
            errors.append("%s: binary_sensor without payload_on/payload_off" % topic)
    if set(seen) != want:
        errors.append("objects %s, want %s" % (sorted(seen), sorted(want)))
    ids = {json.dumps(c["device"].get("identifiers")) for _, c in seen.values()
           if isinstance(c.get("device"), dict)}
    if len(ids) > 1:
        errors.append("entities on different devices: %s" % sorted(ids))
    if errors:
        sys.stderr.write("\n".join(errors) + "\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
