"""Tests of python/weir/http/ (named inbound: a tests/http package would shadow the standard library's http)."""
