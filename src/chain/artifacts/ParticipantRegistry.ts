// Generated from contracts/ParticipantRegistry.sol by scripts/compileContracts.ts (solc 0.8.28+commit.7893614a.Emscripten.clang, optimizer 200 runs, evm cancun); do not edit; npm run contracts:build
export const participantRegistryAbi = [
  {
    "inputs": [],
    "stateMutability": "nonpayable",
    "type": "constructor"
  },
  {
    "inputs": [],
    "name": "AccessControlBadConfirmation",
    "type": "error"
  },
  {
    "inputs": [
      {
        "internalType": "address",
        "name": "account",
        "type": "address"
      },
      {
        "internalType": "bytes32",
        "name": "neededRole",
        "type": "bytes32"
      }
    ],
    "name": "AccessControlUnauthorizedAccount",
    "type": "error"
  },
  {
    "inputs": [],
    "name": "InvalidShortString",
    "type": "error"
  },
  {
    "inputs": [
      {
        "internalType": "address",
        "name": "account",
        "type": "address"
      }
    ],
    "name": "ParticipantAlreadyRegistered",
    "type": "error"
  },
  {
    "inputs": [
      {
        "internalType": "uint8",
        "name": "kind",
        "type": "uint8"
      }
    ],
    "name": "ParticipantInvalidKind",
    "type": "error"
  },
  {
    "inputs": [
      {
        "internalType": "address",
        "name": "patient",
        "type": "address"
      }
    ],
    "name": "ParticipantInvalidSignature",
    "type": "error"
  },
  {
    "inputs": [
      {
        "internalType": "address",
        "name": "node",
        "type": "address"
      }
    ],
    "name": "ParticipantNodeInUse",
    "type": "error"
  },
  {
    "inputs": [
      {
        "internalType": "bytes32",
        "name": "orgId",
        "type": "bytes32"
      }
    ],
    "name": "ParticipantOrganizationExists",
    "type": "error"
  },
  {
    "inputs": [
      {
        "internalType": "address",
        "name": "caller",
        "type": "address"
      },
      {
        "internalType": "bytes32",
        "name": "orgId",
        "type": "bytes32"
      }
    ],
    "name": "ParticipantUnauthorized",
    "type": "error"
  },
  {
    "inputs": [
      {
        "internalType": "bytes32",
        "name": "orgId",
        "type": "bytes32"
      }
    ],
    "name": "ParticipantUnknownOrganization",
    "type": "error"
  },
  {
    "inputs": [
      {
        "internalType": "bytes32",
        "name": "orgId",
        "type": "bytes32"
      },
      {
        "internalType": "address",
        "name": "account",
        "type": "address"
      }
    ],
    "name": "ParticipantUnknownPractitioner",
    "type": "error"
  },
  {
    "inputs": [],
    "name": "ParticipantZeroNode",
    "type": "error"
  },
  {
    "inputs": [],
    "name": "ParticipantZeroOrganizationId",
    "type": "error"
  },
  {
    "inputs": [],
    "name": "ParticipantZeroRole",
    "type": "error"
  },
  {
    "inputs": [
      {
        "internalType": "string",
        "name": "str",
        "type": "string"
      }
    ],
    "name": "StringTooLong",
    "type": "error"
  },
  {
    "anonymous": false,
    "inputs": [],
    "name": "EIP712DomainChanged",
    "type": "event"
  },
  {
    "anonymous": false,
    "inputs": [
      {
        "indexed": true,
        "internalType": "bytes32",
        "name": "orgId",
        "type": "bytes32"
      },
      {
        "indexed": false,
        "internalType": "bool",
        "name": "active",
        "type": "bool"
      }
    ],
    "name": "OrganizationActivationChanged",
    "type": "event"
  },
  {
    "anonymous": false,
    "inputs": [
      {
        "indexed": true,
        "internalType": "bytes32",
        "name": "orgId",
        "type": "bytes32"
      },
      {
        "indexed": false,
        "internalType": "string",
        "name": "name",
        "type": "string"
      },
      {
        "indexed": false,
        "internalType": "uint8",
        "name": "kind",
        "type": "uint8"
      },
      {
        "indexed": false,
        "internalType": "string",
        "name": "endpoint",
        "type": "string"
      },
      {
        "indexed": true,
        "internalType": "address",
        "name": "node",
        "type": "address"
      }
    ],
    "name": "OrganizationRegistered",
    "type": "event"
  },
  {
    "anonymous": false,
    "inputs": [
      {
        "indexed": true,
        "internalType": "bytes32",
        "name": "orgId",
        "type": "bytes32"
      },
      {
        "indexed": false,
        "internalType": "string",
        "name": "endpoint",
        "type": "string"
      },
      {
        "indexed": true,
        "internalType": "address",
        "name": "node",
        "type": "address"
      }
    ],
    "name": "OrganizationUpdated",
    "type": "event"
  },
  {
    "anonymous": false,
    "inputs": [
      {
        "indexed": true,
        "internalType": "address",
        "name": "account",
        "type": "address"
      }
    ],
    "name": "PatientRegistered",
    "type": "event"
  },
  {
    "anonymous": false,
    "inputs": [
      {
        "indexed": true,
        "internalType": "bytes32",
        "name": "orgId",
        "type": "bytes32"
      },
      {
        "indexed": true,
        "internalType": "address",
        "name": "account",
        "type": "address"
      },
      {
        "indexed": false,
        "internalType": "bytes32",
        "name": "role",
        "type": "bytes32"
      }
    ],
    "name": "PractitionerAdded",
    "type": "event"
  },
  {
    "anonymous": false,
    "inputs": [
      {
        "indexed": true,
        "internalType": "bytes32",
        "name": "orgId",
        "type": "bytes32"
      },
      {
        "indexed": true,
        "internalType": "address",
        "name": "account",
        "type": "address"
      }
    ],
    "name": "PractitionerRemoved",
    "type": "event"
  },
  {
    "anonymous": false,
    "inputs": [
      {
        "indexed": true,
        "internalType": "bytes32",
        "name": "role",
        "type": "bytes32"
      },
      {
        "indexed": true,
        "internalType": "bytes32",
        "name": "previousAdminRole",
        "type": "bytes32"
      },
      {
        "indexed": true,
        "internalType": "bytes32",
        "name": "newAdminRole",
        "type": "bytes32"
      }
    ],
    "name": "RoleAdminChanged",
    "type": "event"
  },
  {
    "anonymous": false,
    "inputs": [
      {
        "indexed": true,
        "internalType": "bytes32",
        "name": "role",
        "type": "bytes32"
      },
      {
        "indexed": true,
        "internalType": "address",
        "name": "account",
        "type": "address"
      },
      {
        "indexed": true,
        "internalType": "address",
        "name": "sender",
        "type": "address"
      }
    ],
    "name": "RoleGranted",
    "type": "event"
  },
  {
    "anonymous": false,
    "inputs": [
      {
        "indexed": true,
        "internalType": "bytes32",
        "name": "role",
        "type": "bytes32"
      },
      {
        "indexed": true,
        "internalType": "address",
        "name": "account",
        "type": "address"
      },
      {
        "indexed": true,
        "internalType": "address",
        "name": "sender",
        "type": "address"
      }
    ],
    "name": "RoleRevoked",
    "type": "event"
  },
  {
    "inputs": [],
    "name": "DEFAULT_ADMIN_ROLE",
    "outputs": [
      {
        "internalType": "bytes32",
        "name": "",
        "type": "bytes32"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [],
    "name": "DOMAIN_SEPARATOR",
    "outputs": [
      {
        "internalType": "bytes32",
        "name": "",
        "type": "bytes32"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [],
    "name": "GOVERNOR_ROLE",
    "outputs": [
      {
        "internalType": "bytes32",
        "name": "",
        "type": "bytes32"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [],
    "name": "REGISTER_PATIENT_TYPEHASH",
    "outputs": [
      {
        "internalType": "bytes32",
        "name": "",
        "type": "bytes32"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [
      {
        "internalType": "bytes32",
        "name": "orgId",
        "type": "bytes32"
      },
      {
        "internalType": "address",
        "name": "account",
        "type": "address"
      },
      {
        "internalType": "bytes32",
        "name": "role",
        "type": "bytes32"
      }
    ],
    "name": "addPractitioner",
    "outputs": [],
    "stateMutability": "nonpayable",
    "type": "function"
  },
  {
    "inputs": [],
    "name": "eip712Domain",
    "outputs": [
      {
        "internalType": "bytes1",
        "name": "fields",
        "type": "bytes1"
      },
      {
        "internalType": "string",
        "name": "name",
        "type": "string"
      },
      {
        "internalType": "string",
        "name": "version",
        "type": "string"
      },
      {
        "internalType": "uint256",
        "name": "chainId",
        "type": "uint256"
      },
      {
        "internalType": "address",
        "name": "verifyingContract",
        "type": "address"
      },
      {
        "internalType": "bytes32",
        "name": "salt",
        "type": "bytes32"
      },
      {
        "internalType": "uint256[]",
        "name": "extensions",
        "type": "uint256[]"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [
      {
        "internalType": "bytes32",
        "name": "role",
        "type": "bytes32"
      }
    ],
    "name": "getRoleAdmin",
    "outputs": [
      {
        "internalType": "bytes32",
        "name": "",
        "type": "bytes32"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [
      {
        "internalType": "bytes32",
        "name": "role",
        "type": "bytes32"
      },
      {
        "internalType": "address",
        "name": "account",
        "type": "address"
      }
    ],
    "name": "grantRole",
    "outputs": [],
    "stateMutability": "nonpayable",
    "type": "function"
  },
  {
    "inputs": [
      {
        "internalType": "bytes32",
        "name": "role",
        "type": "bytes32"
      },
      {
        "internalType": "address",
        "name": "account",
        "type": "address"
      }
    ],
    "name": "hasRole",
    "outputs": [
      {
        "internalType": "bool",
        "name": "",
        "type": "bool"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [
      {
        "internalType": "address",
        "name": "account",
        "type": "address"
      }
    ],
    "name": "isNode",
    "outputs": [
      {
        "internalType": "bool",
        "name": "",
        "type": "bool"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [
      {
        "internalType": "address",
        "name": "account",
        "type": "address"
      }
    ],
    "name": "isPatient",
    "outputs": [
      {
        "internalType": "bool",
        "name": "",
        "type": "bool"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [
      {
        "internalType": "bytes32",
        "name": "orgId",
        "type": "bytes32"
      }
    ],
    "name": "organization",
    "outputs": [
      {
        "components": [
          {
            "internalType": "string",
            "name": "name",
            "type": "string"
          },
          {
            "internalType": "uint8",
            "name": "kind",
            "type": "uint8"
          },
          {
            "internalType": "string",
            "name": "endpoint",
            "type": "string"
          },
          {
            "internalType": "address",
            "name": "node",
            "type": "address"
          },
          {
            "internalType": "bool",
            "name": "active",
            "type": "bool"
          },
          {
            "internalType": "bool",
            "name": "exists",
            "type": "bool"
          }
        ],
        "internalType": "struct ParticipantRegistry.Organization",
        "name": "",
        "type": "tuple"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [
      {
        "internalType": "address",
        "name": "node",
        "type": "address"
      }
    ],
    "name": "organizationOfNode",
    "outputs": [
      {
        "internalType": "bytes32",
        "name": "",
        "type": "bytes32"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [
      {
        "internalType": "bytes32",
        "name": "orgId",
        "type": "bytes32"
      },
      {
        "internalType": "address",
        "name": "account",
        "type": "address"
      }
    ],
    "name": "practitionerRole",
    "outputs": [
      {
        "internalType": "bytes32",
        "name": "",
        "type": "bytes32"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [
      {
        "internalType": "bytes32",
        "name": "orgId",
        "type": "bytes32"
      },
      {
        "internalType": "string",
        "name": "name",
        "type": "string"
      },
      {
        "internalType": "uint8",
        "name": "kind",
        "type": "uint8"
      },
      {
        "internalType": "string",
        "name": "endpoint",
        "type": "string"
      },
      {
        "internalType": "address",
        "name": "node",
        "type": "address"
      }
    ],
    "name": "registerOrganization",
    "outputs": [],
    "stateMutability": "nonpayable",
    "type": "function"
  },
  {
    "inputs": [],
    "name": "registerPatient",
    "outputs": [],
    "stateMutability": "nonpayable",
    "type": "function"
  },
  {
    "inputs": [
      {
        "internalType": "address",
        "name": "patient",
        "type": "address"
      },
      {
        "internalType": "bytes",
        "name": "signature",
        "type": "bytes"
      }
    ],
    "name": "registerPatientBySig",
    "outputs": [],
    "stateMutability": "nonpayable",
    "type": "function"
  },
  {
    "inputs": [
      {
        "internalType": "bytes32",
        "name": "orgId",
        "type": "bytes32"
      },
      {
        "internalType": "address",
        "name": "account",
        "type": "address"
      }
    ],
    "name": "removePractitioner",
    "outputs": [],
    "stateMutability": "nonpayable",
    "type": "function"
  },
  {
    "inputs": [
      {
        "internalType": "bytes32",
        "name": "role",
        "type": "bytes32"
      },
      {
        "internalType": "address",
        "name": "callerConfirmation",
        "type": "address"
      }
    ],
    "name": "renounceRole",
    "outputs": [],
    "stateMutability": "nonpayable",
    "type": "function"
  },
  {
    "inputs": [
      {
        "internalType": "bytes32",
        "name": "role",
        "type": "bytes32"
      },
      {
        "internalType": "address",
        "name": "account",
        "type": "address"
      }
    ],
    "name": "revokeRole",
    "outputs": [],
    "stateMutability": "nonpayable",
    "type": "function"
  },
  {
    "inputs": [
      {
        "internalType": "bytes32",
        "name": "orgId",
        "type": "bytes32"
      },
      {
        "internalType": "bool",
        "name": "active",
        "type": "bool"
      }
    ],
    "name": "setOrganizationActive",
    "outputs": [],
    "stateMutability": "nonpayable",
    "type": "function"
  },
  {
    "inputs": [
      {
        "internalType": "bytes4",
        "name": "interfaceId",
        "type": "bytes4"
      }
    ],
    "name": "supportsInterface",
    "outputs": [
      {
        "internalType": "bool",
        "name": "",
        "type": "bool"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [
      {
        "internalType": "bytes32",
        "name": "orgId",
        "type": "bytes32"
      },
      {
        "internalType": "string",
        "name": "endpoint",
        "type": "string"
      },
      {
        "internalType": "address",
        "name": "node",
        "type": "address"
      }
    ],
    "name": "updateOrganization",
    "outputs": [],
    "stateMutability": "nonpayable",
    "type": "function"
  }
] as const;

export const participantRegistryBytecode = "0x610160604052348015610010575f5ffd5b506040518060400160405280601d81526020017f63617265636861696e205061727469636970616e745265676973747279000000815250604051806040016040528060018152602001603160f81b81525061007560018361015460201b90919060201c565b61012052610084816002610154565b61014052815160208084019190912060e052815190820120610100524660a05261011060e05161010051604080517f8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f60208201529081019290925260608201524660808201523060a08201525f9060c00160405160208183030381529060405280519060200120905090565b60805250503060c0526101235f33610186565b5061014e7f7935bd0ae54bc31f548c14dba4d37c5c64b3f8ca900cb468fb8abd54d5894f5533610186565b5061041d565b5f60208351101561016f576101688361022d565b9050610180565b8161017a848261030b565b5060ff90505b92915050565b5f828152602081815260408083206001600160a01b038516845290915281205460ff16610226575f838152602081815260408083206001600160a01b03861684529091529020805460ff191660011790556101de3390565b6001600160a01b0316826001600160a01b0316847f2f8788117e7eff1d82e926ec794901d17c78024a50270940304540a733656f0d60405160405180910390a4506001610180565b505f610180565b5f5f829050601f81511115610260578260405163305a27a960e01b815260040161025791906103c5565b60405180910390fd5b805161026b826103fa565b179392505050565b634e487b7160e01b5f52604160045260245ffd5b600181811c9082168061029b57607f821691505b6020821081036102b957634e487b7160e01b5f52602260045260245ffd5b50919050565b601f82111561030657805f5260205f20601f840160051c810160208510156102e45750805b601f840160051c820191505b81811015610303575f81556001016102f0565b50505b505050565b81516001600160401b0381111561032457610324610273565b610338816103328454610287565b846102bf565b6020601f82116001811461036a575f83156103535750848201515b5f19600385901b1c1916600184901b178455610303565b5f84815260208120601f198516915b828110156103995787850151825560209485019460019092019101610379565b50848210156103b657868401515f19600387901b60f8161c191681555b50505050600190811b01905550565b602081525f82518060208401528060208501604085015e5f604082850101526040601f19601f83011684010191505092915050565b805160208083015191908110156102b9575f1960209190910360031b1b16919050565b60805160a05160c05160e051610100516101205161014051611bc261046e5f395f61113201525f61110501525f610fc201525f610f9a01525f610ef501525f610f1f01525f610f490152611bc25ff3fe608060405234801561000f575f5ffd5b5060043610610148575f3560e01c80638024852e116100bf5780639765f128116100795780639765f12814610318578063a217fddf1461032b578063a3c02f6214610332578063ccc5749014610352578063d547741f14610366578063db90d3d214610379575f5ffd5b80638024852e1461026f578063822d38851461028257806384b0196e1461028a5780638f9c79ed146102a557806391d14854146102d05780639255ab69146102e3575f5ffd5b80633335af57116101105780633335af57146101f3578063349f7f5f1461021b57806334b904ff1461022e5780633644e5151461024157806336568abe146102495780634df644651461025c575f5ffd5b8063017501521461014c57806301f915b31461017457806301ffc9a7146101a9578063248a9ca3146101bc5780632f2ff15d146101de575b5f5ffd5b61015f61015a3660046114e3565b61038c565b60405190151581526020015b60405180910390f35b61019b7f63f36b354636e8b771f59e3c3ae26bda3e67a1b231812671a5f1d5aa3f3e013e81565b60405190815260200161016b565b61015f6101b73660046114fc565b6103d2565b61019b6101ca366004611523565b5f9081526020819052604090206001015490565b6101f16101ec36600461153a565b610408565b005b61019b6102013660046114e3565b6001600160a01b03165f9081526004602052604090205490565b6101f1610229366004611564565b610432565b6101f161023c3660046115dc565b610507565b61019b6105de565b6101f161025736600461153a565b6105ec565b6101f161026a36600461153a565b610624565b6101f161027d36600461162b565b6106d1565b6101f1610909565b610292610914565b60405161016b97969594939291906116f9565b61015f6102b33660046114e3565b6001600160a01b03165f9081526006602052604090205460ff1690565b61015f6102de36600461153a565b610956565b61019b6102f136600461153a565b5f9182526005602090815260408084206001600160a01b0393909316845291905290205490565b6101f161032636600461178f565b61097e565b61019b5f81565b610345610340366004611523565b610a3d565b60405161016b91906117e9565b61019b5f516020611b6d5f395f51905f5281565b6101f161037436600461153a565b610bf4565b6101f1610387366004611865565b610c18565b6001600160a01b0381165f9081526004602052604081205480158015906103cb57505f8181526003602081905260409091200154600160a01b900460ff165b9392505050565b5f6001600160e01b03198216637965db0b60e01b148061040257506301ffc9a760e01b6001600160e01b03198316145b92915050565b5f8281526020819052604090206001015461042281610c9b565b61042c8383610ca8565b50505050565b61043b83610d37565b508061045a57604051631a765c1160e11b815260040160405180910390fd5b5f8381526005602090815260408083206001600160a01b0386168452909152902054156104aa57604051631062cdfb60e11b81526001600160a01b03831660048201526024015b60405180910390fd5b5f8381526005602090815260408083206001600160a01b038616808552908352928190208490555183815285917f368057e9a6f2d67da1e9a2304ffb2b89ac2fca9bbdc6588629ec3965c12a5ae0910160405180910390a3505050565b5f61056b7f63f36b354636e8b771f59e3c3ae26bda3e67a1b231812671a5f1d5aa3f3e013e856040516020016105509291909182526001600160a01b0316602082015260400190565b60405160208183030381529060405280519060200120610dbd565b90506105ad848285858080601f0160208091040260200160405190810160405280939291908181526020018383808284375f92019190915250610de992505050565b6105d557604051631fcf304760e21b81526001600160a01b03851660048201526024016104a1565b61042c84610e5a565b5f6105e7610ee9565b905090565b6001600160a01b03811633146106155760405163334bd91960e11b815260040160405180910390fd5b61061f8282611012565b505050565b61062d82610d37565b505f8281526005602090815260408083206001600160a01b038516845290915290205461067f57604051632d823bbf60e01b8152600481018390526001600160a01b03821660248201526044016104a1565b5f8281526005602090815260408083206001600160a01b038516808552925280832083905551909184917f1a096beed2de25c794a33cbad798f2ee6ec9fbd64c991e66ec1cb2e722a709389190a35050565b5f516020611b6d5f395f51905f526106e881610c9b565b8761070657604051630508112560e01b815260040160405180910390fd5b5f8881526003602081905260409091200154600160a81b900460ff161561074357604051633163ebf160e01b8152600481018990526024016104a1565b600760ff86161061076c57604051636923006560e11b815260ff861660048201526024016104a1565b610776828961107b565b6040518060c0016040528088888080601f0160208091040260200160405190810160405280939291908181526020018383808284375f9201919091525050509082525060ff871660208083019190915260408051601f880183900483028101830182528781529201919087908790819084018382808284375f9201829052509385525050506001600160a01b038516602080840191909152600160408085018290526060909401528b82526003905220815181906108349082611928565b50602082015160018201805460ff191660ff909216919091179055604082015160028201906108639082611928565b50606082015160039091018054608084015160a0909401511515600160a81b0260ff60a81b19941515600160a01b026001600160a81b03199092166001600160a01b03948516179190911793909316929092179091556040519083169089907f92605490562a78c4b4ed09b21c2f027a886ff6dc821aa4c11a752320940a4da5906108f7908b908b908b908b908b90611a0b565b60405180910390a35050505050505050565b61091233610e5a565b565b5f6060805f5f5f60606109256110fe565b61092d61112b565b604080515f80825260208201909252600f60f81b9b939a50919850469750309650945092509050565b5f918252602082815260408084206001600160a01b0393909316845291905290205460ff1690565b5f61098885610d37565b60038101549091506001600160a01b0390811690831681146109e1576109ae838761107b565b6001600160a01b038181165f908152600460205260408120556003830180546001600160a01b0319169185169190911790555b600282016109f0858783611a46565b50826001600160a01b0316867f30bce6f409935c9ae2c60adbe9c94320c1c16e056d4b0654b45474c1a7e668c68787604051610a2d929190611b00565b60405180910390a3505050505050565b6040805160c08101825260608082525f6020830181905292820181905281018290526080810182905260a08101919091525f8281526003602052604090819020815160c08101909252805482908290610a95906118ab565b80601f0160208091040260200160405190810160405280929190818152602001828054610ac1906118ab565b8015610b0c5780601f10610ae357610100808354040283529160200191610b0c565b820191905f5260205f20905b815481529060010190602001808311610aef57829003601f168201915b5050509183525050600182015460ff166020820152600282018054604090920191610b36906118ab565b80601f0160208091040260200160405190810160405280929190818152602001828054610b62906118ab565b8015610bad5780601f10610b8457610100808354040283529160200191610bad565b820191905f5260205f20905b815481529060010190602001808311610b9057829003601f168201915b5050509183525050600391909101546001600160a01b038116602083015260ff600160a01b8204811615156040840152600160a81b90910416151560609091015292915050565b5f82815260208190526040902060010154610c0e81610c9b565b61042c8383611012565b5f516020611b6d5f395f51905f52610c2f81610c9b565b5f610c3984611158565b600381018054851515600160a01b0260ff60a01b1990911617905560405190915084907f2bcd4d8d70b29f5c9f48d98a15e516d3c3e27302ccdf30161e245110ef4f5f8690610c8d90861515815260200190565b60405180910390a250505050565b610ca5813361119b565b50565b5f610cb38383610956565b610d30575f838152602081815260408083206001600160a01b03861684529091529020805460ff19166001179055610ce83390565b6001600160a01b0316826001600160a01b0316847f2f8788117e7eff1d82e926ec794901d17c78024a50270940304540a733656f0d60405160405180910390a4506001610402565b505f610402565b5f610d4182611158565b60038101549091505f906001600160a01b031633148015610d6d57506003820154600160a01b900460ff165b905080158015610d915750610d8f5f516020611b6d5f395f51905f5233610956565b155b15610db757604051620aa6af60e31b8152336004820152602481018490526044016104a1565b50919050565b5f610402610dc9610ee9565b8360405161190160f01b8152600281019290925260228201526042902090565b5f836001600160a01b03163b5f03610e47575f5f610e0785856111d8565b5090925090505f816003811115610e2057610e20611b13565b148015610e3e5750856001600160a01b0316826001600160a01b0316145b925050506103cb565b610e52848484611221565b949350505050565b6001600160a01b0381165f9081526006602052604090205460ff1615610e9e57604051631062cdfb60e11b81526001600160a01b03821660048201526024016104a1565b6001600160a01b0381165f81815260066020526040808220805460ff19166001179055517fc9fa2003fca4ce0dfc8cb0deae32266b715536df6685365b05b5be96ede8e49c9190a250565b5f306001600160a01b037f000000000000000000000000000000000000000000000000000000000000000016148015610f4157507f000000000000000000000000000000000000000000000000000000000000000046145b15610f6b57507f000000000000000000000000000000000000000000000000000000000000000090565b6105e7604080517f8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f60208201527f0000000000000000000000000000000000000000000000000000000000000000918101919091527f000000000000000000000000000000000000000000000000000000000000000060608201524660808201523060a08201525f9060c00160405160208183030381529060405280519060200120905090565b5f61101d8383610956565b15610d30575f838152602081815260408083206001600160a01b0386168085529252808320805460ff1916905551339286917ff6391f5c32d9c69d2a47ea670b442974b53935d1edc7fd64eb21e047a839171b9190a4506001610402565b6001600160a01b0382166110a2576040516374c9bb2d60e11b815260040160405180910390fd5b6001600160a01b0382165f90815260046020526040902054156110e3576040516350f75a0360e01b81526001600160a01b03831660048201526024016104a1565b6001600160a01b039091165f90815260046020526040902055565b60606105e77f000000000000000000000000000000000000000000000000000000000000000060016112f8565b60606105e77f000000000000000000000000000000000000000000000000000000000000000060026112f8565b5f81815260036020819052604090912090810154600160a81b900460ff1661119657604051636c29e2a960e11b8152600481018390526024016104a1565b919050565b6111a58282610956565b6111d45760405163e2517d3f60e01b81526001600160a01b0382166004820152602481018390526044016104a1565b5050565b5f5f5f835160410361120f576020840151604085015160608601515f1a611201888285856113a1565b95509550955050505061121a565b505081515f91506002905b9250925092565b5f5f5f856001600160a01b03168585604051602401611241929190611b27565b60408051601f198184030181529181526020820180516001600160e01b0316630b135d3f60e11b179052516112769190611b3f565b5f60405180830381855afa9150503d805f81146112ae576040519150601f19603f3d011682016040523d82523d5f602084013e6112b3565b606091505b50915091508180156112c757506020815110155b80156112ee57508051630b135d3f60e11b906112ec9083016020908101908401611b55565b145b9695505050505050565b606060ff83146113125761130b83611469565b9050610402565b81805461131e906118ab565b80601f016020809104026020016040519081016040528092919081815260200182805461134a906118ab565b80156113955780601f1061136c57610100808354040283529160200191611395565b820191905f5260205f20905b81548152906001019060200180831161137857829003601f168201915b50505050509050610402565b5f80807f7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a08411156113da57505f9150600390508261145f565b604080515f808252602082018084528a905260ff891692820192909252606081018790526080810186905260019060a0016020604051602081039080840390855afa15801561142b573d5f5f3e3d5ffd5b5050604051601f1901519150506001600160a01b03811661145657505f92506001915082905061145f565b92505f91508190505b9450945094915050565b60605f611475836114a6565b6040805160208082528183019092529192505f91906020820181803683375050509182525060208101929092525090565b5f60ff8216601f81111561040257604051632cd44ac360e21b815260040160405180910390fd5b80356001600160a01b0381168114611196575f5ffd5b5f602082840312156114f3575f5ffd5b6103cb826114cd565b5f6020828403121561150c575f5ffd5b81356001600160e01b0319811681146103cb575f5ffd5b5f60208284031215611533575f5ffd5b5035919050565b5f5f6040838503121561154b575f5ffd5b8235915061155b602084016114cd565b90509250929050565b5f5f5f60608486031215611576575f5ffd5b83359250611586602085016114cd565b929592945050506040919091013590565b5f5f83601f8401126115a7575f5ffd5b50813567ffffffffffffffff8111156115be575f5ffd5b6020830191508360208285010111156115d5575f5ffd5b9250929050565b5f5f5f604084860312156115ee575f5ffd5b6115f7846114cd565b9250602084013567ffffffffffffffff811115611612575f5ffd5b61161e86828701611597565b9497909650939450505050565b5f5f5f5f5f5f5f60a0888a031215611641575f5ffd5b87359650602088013567ffffffffffffffff81111561165e575f5ffd5b61166a8a828b01611597565b909750955050604088013560ff81168114611683575f5ffd5b9350606088013567ffffffffffffffff81111561169e575f5ffd5b6116aa8a828b01611597565b90945092506116bd9050608089016114cd565b905092959891949750929550565b5f81518084528060208401602086015e5f602082860101526020601f19601f83011685010191505092915050565b60ff60f81b8816815260e060208201525f61171760e08301896116cb565b828103604084015261172981896116cb565b606084018890526001600160a01b038716608085015260a0840186905283810360c0850152845180825260208087019350909101905f5b8181101561177e578351835260209384019390920191600101611760565b50909b9a5050505050505050505050565b5f5f5f5f606085870312156117a2575f5ffd5b84359350602085013567ffffffffffffffff8111156117bf575f5ffd5b6117cb87828801611597565b90945092506117de9050604086016114cd565b905092959194509250565b602081525f825160c0602084015261180460e08401826116cb565b905060ff60208501511660408401526040840151601f1984830301606085015261182e82826116cb565b91505060018060a01b0360608501511660808401526080840151151560a084015260a0840151151560c08401528091505092915050565b5f5f60408385031215611876575f5ffd5b823591506020830135801515811461188c575f5ffd5b809150509250929050565b634e487b7160e01b5f52604160045260245ffd5b600181811c908216806118bf57607f821691505b602082108103610db757634e487b7160e01b5f52602260045260245ffd5b601f82111561061f57805f5260205f20601f840160051c810160208510156119025750805b601f840160051c820191505b81811015611921575f815560010161190e565b5050505050565b815167ffffffffffffffff81111561194257611942611897565b6119568161195084546118ab565b846118dd565b6020601f821160018114611988575f83156119715750848201515b5f19600385901b1c1916600184901b178455611921565b5f84815260208120601f198516915b828110156119b75787850151825560209485019460019092019101611997565b50848210156119d457868401515f19600387901b60f8161c191681555b50505050600190811b01905550565b81835281816020850137505f828201602090810191909152601f909101601f19169091010190565b606081525f611a1e6060830187896119e3565b60ff861660208401528281036040840152611a3a8185876119e3565b98975050505050505050565b67ffffffffffffffff831115611a5e57611a5e611897565b611a7283611a6c83546118ab565b836118dd565b5f601f841160018114611aa3575f8515611a8c5750838201355b5f19600387901b1c1916600186901b178355611921565b5f83815260208120601f198716915b82811015611ad25786850135825560209485019460019092019101611ab2565b5086821015611aee575f1960f88860031b161c19848701351681555b505060018560011b0183555050505050565b602081525f610e526020830184866119e3565b634e487b7160e01b5f52602160045260245ffd5b828152604060208201525f610e5260408301846116cb565b5f82518060208501845e5f920191825250919050565b5f60208284031215611b65575f5ffd5b505191905056fe7935bd0ae54bc31f548c14dba4d37c5c64b3f8ca900cb468fb8abd54d5894f55a26469706673582212200e8fca46a7ae494a89043daca9264e19177353a8817f7b2154f6ee692aab91eb64736f6c634300081c0033" as const;
