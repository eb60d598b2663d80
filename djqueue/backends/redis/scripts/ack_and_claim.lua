-- ARGV: the six of ACK, then the six of CLAIM.
return {ack(2, ARGV[1]), claim(7, false)}
