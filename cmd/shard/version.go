package main

import "github.com/shardingsystem/shard/server"

func versionString() string { return server.Version }
