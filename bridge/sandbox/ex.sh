SIG=$(curl -s "http://127.0.0.1:$PORT/sandbox/usersig?identifier=administrator" | python3 -c 'import json,sys; print(json.load(sys.stdin)["usersig"])')
URL="http://127.0.0.1:$PORT/v4/profile/portrait_get?sdkappid=1400000000&identifier=administrator&usersig=$SIG&random=$RANDOM&contenttype=json"

# Profiles (nobody is unknown: 40003 in Fail_Account)
curl -s "$URL" -d '{"To_Account":["alice","user5","nobody"],"TagList":["Tag_Profile_IM_Nick","Tag_Profile_IM_BirthDay","Tag_Profile_Custom_Test"]}'

# Faults: the next call is a 502, the one after has the connection dropped, user7 always fails with 40006
curl -s "http://127.0.0.1:$PORT/sandbox/faults" -d '{"http_502_count":1,"drop_connection_count":1,"fail_accounts":{"user7":40006}}'
curl -s "$URL" -d '{"To_Account":["user7"],"TagList":["Tag_Profile_IM_Nick"]}'; echo "curl exit $?"  # dropped: exit 52 (drop goes first)
curl -s -i "$URL" -d '{"To_Account":["user7"],"TagList":["Tag_Profile_IM_Nick"]}'   # HTTP 502 with HTML
curl -s "$URL" -d '{"To_Account":["user7","user8"],"TagList":["Tag_Profile_IM_Nick"]}' # OK, user7 in Fail_Account
curl -s "http://127.0.0.1:$PORT/sandbox/faults" -d '{"usersig_expired_count":1}'   # next call 70001
curl -s "http://127.0.0.1:$PORT/sandbox/faults" -d '{}'                            # all off

curl -s "http://127.0.0.1:$PORT/sandbox/stats"
curl -s -X POST "http://127.0.0.1:$PORT/sandbox/stats/reset" -d ''
