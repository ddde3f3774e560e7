"""Eventing: the envelope, the outbox relay, the buses (memory, Redis Streams), sinks and `/events`."""
