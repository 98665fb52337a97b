"""Speed and cost: ``bnlab bench`` measures throughput (``throughput``), ``bnlab plan`` turns it into the cost of a
study before anything trains (``plan``)."""
