/// A table with every type the contract covers and rows chosen to break a naive renderer
/// (escapes, unicode, float and numeric edges, BC and infinite timestamps, nested and quoted
/// arrays, json with duplicate keys and odd whitespace), plus 300 random rows.
enum TrickyRows {
    /// The session settings the contract requires (docs/cache-protocol.md).
    static let sessionSettings = """
        SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET extra_float_digits = 1;
        SET IntervalStyle = 'postgres'; SET bytea_output = 'hex'
        """

    static func createTable(_ name: String, temporary: Bool) -> String {
        """
        CREATE \(temporary ? "TEMP" : "") TABLE \(name) (
          id int4 PRIMARY KEY, dropme text, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, n numeric,
          t text, vc varchar(30), bc char(5), nm name, ch "char", b bool,
          ts timestamp, tstz timestamptz, d date, tm time, tmtz timetz, u uuid, j json, jb jsonb,
          by bytea, iv interval, mn money, ip inet, o oid, pt point, vb varbit, tsr tstzrange,
          ia int4[], ta text[], na numeric[], fa float8[], f4a float4[], tsa timestamptz[],
          tsna timestamp[], da date[], ja json[], jba jsonb[], ba bool[], bya bytea[], bxa box[],
          ua uuid[], i8a int8[], "Weird ""Col"" é" text, x int4
        );
        ALTER TABLE \(name) DROP COLUMN dropme
        """
    }

    static func inserts(_ table: String) -> String {
        #"""
        INSERT INTO T (id, i2, i4, i8, f4, f8, n, t, vc, bc, nm, ch, b, ts, tstz, d, tm, tmtz, u, j, jb,
                       by, iv, mn, ip, o, pt, vb, tsr, ia, ta, na, fa, f4a, tsa, tsna, da, ja, jba, ba,
                       bya, bxa, ua, i8a, "Weird ""Col"" é", x)
        VALUES (1, 1, 2, 3, 1.5, 2.25, 3.14159, 'hello', 'world', 'ab', 'pg_name', 'x', true,
                '2024-01-31 10:11:12', '2024-01-31 10:11:12.5+02', '2024-01-31', '10:11:12', '10:11:12+02',
                'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"b":1, "a":2}', '{"b":1, "a":2}', '\xdeadbeef',
                '1 year 2 mons 3 days 04:05:06.7', 12.34, '192.168.0.1/24', 12345, '(1.5,2)', B'1011',
                '[2024-01-01,2024-02-01)', '{1,2,3}', '{a,b}', '{1.5,2}', '{1.5,2.5}', '{1.5}',
                '{"2024-01-01 00:00:00+00"}', '{"2024-01-01 00:00:00"}', '{2024-01-01}', ARRAY['{"a":1}'::json],
                ARRAY['{"a":1}'::jsonb], '{t}', '{"\\x01"}', '{(1,1),(0,0)}',
                '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', '{9223372036854775807}', 'weird', 7);
        INSERT INTO T (id) VALUES (2);
        INSERT INTO T (id, t, vc, bc, nm, ch, "Weird ""Col"" é", ta)
        VALUES (3, E'quote " backslash \\ nl \n tab \t cr \r bs \b ff \f bell \x07 del \x7f é 😀 \x01 \x1f / end',
                '', 'a', E'na"me\\', E'\\', E'line1\nline2\t"q"',
                E'{"",NULL,"NULL","a,b","c\\"d","e\\\\f","{x}"," lead","trail ","null",NULL,"é 😀","\\u0041"}');
        INSERT INTO T (id, i2, i4, i8, f4, f8, n, fa, f4a, na, i8a)
        VALUES (4, -32768, 2147483647, -9223372036854775808, 'NaN', '-0', 'NaN',
                '{Infinity,-Infinity,NaN,-0,0,1e300,5e-324,2.2250738585072014e-308,0.1,1e16,123456789.125}',
                '{1.1,3.4028235e+38,1e-45,-0,NaN,0.3}', '{1.50,-0.000,NaN,Infinity,-Infinity,1e-20,100}',
                '{-9223372036854775808,0,NULL}');
        INSERT INTO T (id, f4, f8, n) VALUES (5, 'Infinity', '-Infinity', 'Infinity');
        INSERT INTO T (id, f4, f8, n) VALUES (6, 1.1, 1e16, '-Infinity');
        INSERT INTO T (id, f8, n) VALUES (7, 0.30000000000000004, 1e1000);
        INSERT INTO T (id, f8, n) VALUES (8, 1e-7, 1e-1000);
        INSERT INTO T (id, f8, n) VALUES (9, 1.7976931348623157e308, -0.0000);
        INSERT INTO T (id, ts, tstz, d, tm, tmtz, tsa, da, tsna)
        VALUES (10, 'infinity', '-infinity', 'infinity', '24:00:00', '00:00:00-15:59',
                '{infinity,-infinity,NULL}', '{-infinity}', '{infinity}');
        INSERT INTO T (id, ts, tstz, d, da, tsna, tsa)
        VALUES (11, '0044-03-15 12:00:00.5 BC', '4713-01-01 00:00:00+00 BC', '4713-01-01 BC',
                '{"0001-01-01 BC","0001-01-01"}', '{"0044-03-15 12:00:00 BC"}', '{"0001-12-31 23:59:59.000001+00 BC"}');
        INSERT INTO T (id, ts, tstz, d, tsa)
        VALUES (12, '294276-12-31 23:59:59.999999', '294276-12-31 23:59:59.999999+00', '5874897-12-31',
                '{"2024-02-29 23:59:59.000001+00","2000-01-01 00:00:00.1+00","1999-12-31 23:59:60+00"}');
        INSERT INTO T (id, ts, tstz) VALUES (13, '2000-01-01 00:00:00.100', '2024-06-01 12:00:00+14');
        INSERT INTO T (id, j, jb, ja, jba)
        VALUES (14, $j$ {"b" : 1,	"a":[1.0e2,-0, "\u00e9\/\u001f\ud83d\ude00\b"],
                   "a" : {"y":true, "x" :null}, "":[], "long key": 1E400, "s": "tab\tq\"", "k": -1.50e-3 } $j$,
                $j${"z": {"y": [], "x": {}}, "a": "é", "aa": [1.50, -0.0], "b": 1e2}$j$,
                ARRAY['[]'::json, '"s"', 'null', '{"k":"v","k":"w"}', '1e3', $j$"\u00e9"$j$, '  [ 1 , { } ]  '],
                ARRAY['{"b":1,"a":[]}'::jsonb, 'null', '"x"']);
        INSERT INTO T (id, j, jb) VALUES (15, '"just a string"', 'null');
        INSERT INTO T (id, j, jb) VALUES (16, '123.450', '[]');
        INSERT INTO T (id, j) VALUES (17, '{"dup": 1, "dup": {"dup": 2, "dup": 3}}');
        INSERT INTO T (id, ia, ta, na, ba, bya, bxa, ua)
        VALUES (18, '{}', '{{"a b",c},{d,NULL}}', '[0:1]={1,2}', '{t,f,NULL}', '{"\\x00",NULL,"\\xff"}',
                '{(1,1),(0,0);(3,3),(2,2)}', '{}');
        INSERT INTO T (id, ia, ta) VALUES (19, '{{{1,2},{3,4}},{{5,6},{7,NULL}}}', '[-1:-1][2:3]={{x,"y z"}}');
        INSERT INTO T (id, ia, fa) VALUES (20, '{{1,2},{3,NULL}}', '{}');
        INSERT INTO T (id, t, vc) SELECT 21, string_agg(chr(i), '' ORDER BY i), 'x' FROM generate_series(1, 127) i;
        INSERT INTO T (id, t) SELECT 22, string_agg(chr(i), '' ORDER BY i) FROM generate_series(128, 2200) i;
        INSERT INTO T (id, iv, mn, ip, vb, pt, o, tsr)
        VALUES (23, '-1 days +02:03:00', -1234.56, '::1', B'', '(-0,1e100)', 4294967295, 'empty');
        INSERT INTO T (id, bc, nm, t) VALUES (24, '     ', '', '');
        INSERT INTO T (id, i8, f4, f8, n, t, ts, tstz, d, tm, j, fa, ta, f4a, x)
        SELECT g,
          ((random() * 2 ^ 62)::int8) * (CASE WHEN random() < 0.5 THEN -1 ELSE 1 END),
          ((random() - 0.5) * 10 ^ (random() * 70 - 35))::float4,
          (random() - 0.5) * 10 ^ (random() * 600 - 300),
          round(((random() - 0.5) * 10 ^ (random() * 30))::numeric, (random() * 12)::int),
          (SELECT string_agg(chr(1 + (random() * 1500)::int), '') FROM generate_series(1, 1 + g % 20)),
          timestamp '1900-01-01' + random() * interval '200 years',
          timestamptz '1900-01-01 00:00:00+00' + random() * interval '200 years',
          date '0001-01-01' + (random() * 3000000)::int,
          time '00:00' + random() * interval '24 hours',
          json_build_object('r', random(), 's', md5(g::text), 'n', g, 'arr', json_build_array(random(), g, null)),
          ARRAY[random(), -random() * 1e-300, random() * 1e300, round(random()::numeric, 2)::float8],
          ARRAY[md5(g::text), 'x y', NULL, chr(1 + g % 31)],
          ARRAY[random()::float4, (random() * 1e30)::float4],
          g % 3
        FROM generate_series(100, 399) g
        """#.replacingOccurrences(of: "INSERT INTO T ", with: "INSERT INTO \(table) ")
    }

    /// `attname` and type OID of each live column of `table`, in column order.
    static func columnsQuery(_ table: String) -> String {
        """
        SELECT attname, atttypid::int8::text FROM pg_attribute
         WHERE attrelid = '\(table)'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum
        """
    }
}
