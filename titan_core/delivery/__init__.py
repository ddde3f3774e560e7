"""Delivery, above the store: the relay that publishes the outbox, the buses (memory, Redis Streams),
the sink runner and `once` positions, event filters and profiles, `/events` and the Event Feed.
"""
