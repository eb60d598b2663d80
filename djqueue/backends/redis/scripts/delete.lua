-- ARGV: id.
return delete_message(ARGV[1])
