"""Test helpers: real-tool runners (`tools`) and loopback stand-in servers (`servers`, `charts`)."""
