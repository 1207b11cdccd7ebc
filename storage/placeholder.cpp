// placeholder until storage/ lands
