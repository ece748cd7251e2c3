/* A shared object that is not an econtext plugin: no entry symbol. */
int ec_test_nosym_marker(void);
int ec_test_nosym_marker(void)
{
	return 42;
}
