{
  "targets": [
    {
      "target_name": "udp_bind_device",
      "sources": ["udp_bind_device.c"]
    }
  ]
}
