%% Validate a rabbitmq.conf with the installed RabbitMQ's own cuttlefish schemas,
%% exactly as the broker translates it at boot, without starting a node.
%% Usage: escript rabbitmq_conf_check.escript RABBITMQ_CONF SCHEMA...
%% Exit 0: translated; 1: rejected (errors printed); 2: usage.
main([Conf | Schemas]) when Schemas =/= [] ->
    Schema = cuttlefish_schema:files(Schemas),
    Parsed = cuttlefish_conf:files([Conf]),
    case Parsed of
        {errorlist, ParseErrors} ->
            report(ParseErrors), halt(1);
        _ ->
            case cuttlefish_generator:map(Schema, Parsed) of
                {error, Phase, {errorlist, Errors}} ->
                    io:format("phase ~p~n", [Phase]), report(Errors), halt(1);
                _Config ->
                    io:format("ok~n"), halt(0)
            end
    end;
main(_) ->
    io:format("usage: rabbitmq_conf_check.escript RABBITMQ_CONF SCHEMA...~n"), halt(2).

report(Errors) ->
    [io:format("~s~n", [cuttlefish_error:xlate(E)]) || E <- Errors].
