"""HTTP routes, one mixin per service; GatewayService combines them."""
